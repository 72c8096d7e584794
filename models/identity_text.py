"""Reading an ID card's name and number, and comparing them with the roster tolerantly.

Text comes from rapidocr-onnxruntime (models bundled in the wheel, runs offline). The card
layouts we accept put a label ("Name", "ID No.", "Student number", ...) either on the same
line as its value or on the line just below it; when no ID label is found, the most
number-like token on the card is taken.

Comparison forgives what differs between an LMS roster and an OCR reading without changing
who is named: letter case, accents (José = Jose), punctuation, middle names present on only
one side, and the shapes OCR confuses (O/0, I/l/1, S/5, B/8, Z/2, G/6).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

_NAME_LABEL = re.compile(
    r"^(?:full\s*name|name|surname|given\s*names?|nom|nombre|name/nom)\b\s*[:.]?\s*(.*)$",
    re.IGNORECASE,
)
_ID_LABEL = re.compile(
    r"^(?:id\s*n(?:o|umber)\.?|id\s*#|id|student\s*(?:no\.?|number|id)|card\s*no\.?|"
    r"matriculation\s*no\.?|no\.)\s*[:.#]?\s*(.*)$",
    re.IGNORECASE,
)
_ID_TOKEN = re.compile(r"\b[A-Z0-9][A-Z0-9-]{4,}[A-Z0-9]\b", re.IGNORECASE)
_CONFUSABLE = str.maketrans({"0": "o", "1": "l", "i": "l", "5": "s", "8": "b", "2": "z", "6": "g"})
# One OCR slip is forgiven per this many letters of a name part (after the confusable shapes
# are folded): none in "Anna" vs "Anne", one in "Eilcen" vs "Eileen", two in a 10-letter part.
LETTERS_PER_FORGIVEN_EDIT = 5


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    top: float
    left: float


@dataclass(frozen=True)
class IdCardText:
    name: str | None
    id_number: str | None
    lines: list[OcrLine] = field(default_factory=list)


@lru_cache(maxsize=1)
def _engine():
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def ocr_lines(image: np.ndarray) -> list[OcrLine]:
    """Text lines of an RGB uint8 image, top to bottom, left to right."""
    bgr = np.ascontiguousarray(image[:, :, ::-1]) if image.ndim == 3 else image
    result, _ = _engine()(bgr)
    lines = [
        OcrLine(text.strip(), float(score), min(p[1] for p in box), min(p[0] for p in box))
        for box, text, score in (result or [])
        if text.strip()
    ]
    return sorted(lines, key=lambda line: (round(line.top / 12), line.left))


def _squash_label(text: str) -> str:
    # OCR often glues a label to its punctuation or drops a space ("IDNO." for "ID NO.").
    return re.sub(r"^(id)\s*(no|number)", r"\1 \2", text, flags=re.IGNORECASE)


def _value_after_label(lines: list[OcrLine], pattern: re.Pattern[str]) -> str | None:
    for index, line in enumerate(lines):
        match = pattern.match(_squash_label(line.text))
        if not match:
            continue
        if match.group(1).strip():
            return match.group(1).strip()
        if index + 1 < len(lines):
            return lines[index + 1].text.strip()
    return None


def _id_like(token: str) -> bool:
    return sum(ch.isdigit() for ch in token) >= 4


def parse_id_card(lines: list[OcrLine]) -> IdCardText:
    """Name and ID number from OCR lines (None for a field that was not found)."""
    name = _value_after_label(lines, _NAME_LABEL)
    id_number = _value_after_label(lines, _ID_LABEL)
    if id_number is not None:
        tokens = [t for t in _ID_TOKEN.findall(id_number) if _id_like(t)]
        id_number = tokens[0] if tokens else id_number.replace(" ", "")
    else:
        tokens = [t for line in lines for t in _ID_TOKEN.findall(line.text) if _id_like(t)]
        id_number = max(tokens, key=lambda t: sum(ch.isdigit() for ch in t)) if tokens else None
    return IdCardText(name=name or None, id_number=id_number or None, lines=lines)


def read_id_card(image: np.ndarray) -> IdCardText:
    """OCR an ID card photo (RGB uint8) and pull out the name and the ID number."""
    return parse_id_card(ocr_lines(image))


def normalise_name(name: str) -> list[str]:
    """Lower-case ASCII name parts with accents and punctuation removed."""
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return [part for part in re.split(r"[^a-z0-9]+", ascii_only.casefold()) if part]


def _shape(text: str) -> str:
    return text.casefold().translate(_CONFUSABLE)


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _parts_match(a: str, b: str) -> bool:
    a, b = _shape(a), _shape(b)
    return _edit_distance(a, b) <= max(len(a), len(b)) // LETTERS_PER_FORGIVEN_EDIT


def names_match(expected: str, read: str) -> bool:
    """True when an OCR'd name names the same person as the roster/LTI name.

    Every part of the shorter name must match a distinct part of the longer one (so a
    middle name on only one side is fine), and the family name must match: the last part,
    or the first part where one side writes family name first ("COLLINS, EILEEN"). OCR
    often reads a card's "Adam Carphone" as one word: the same letters without the space
    match too, exactly (up to shape confusions), with no edit forgiven.
    """
    a, b = normalise_name(expected), normalise_name(read)
    if not a or not b:
        return False
    if len(a) != len(b) and _shape("".join(a)) == _shape("".join(b)):
        return True  # OCR dropped (or added) the space between parts: "AdamCarphone"
    if len(a) == 1 or len(b) == 1:  # a mononym matches only a mononym
        return len(a) == len(b) and _parts_match(a[0], b[0])
    family_first = _parts_match(a[-1], b[0]) or _parts_match(a[0], b[-1])
    if not (_parts_match(a[-1], b[-1]) or family_first):
        return False
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    remaining = list(longer)
    for part in shorter:
        hit = next((other for other in remaining if _parts_match(part, other)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def id_numbers_match(expected: str, read: str) -> bool:
    """ID numbers are equal up to case, spaces/dashes and OCR shape confusions (O/0, I/1...)."""

    def key(value: str) -> str:
        return _shape(re.sub(r"[\s-]+", "", value))

    return bool(expected and read) and key(expected) == key(read)
