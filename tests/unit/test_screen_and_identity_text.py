"""Pure text matching: banned window titles (models/screen_apps.py) and ID card text
(models/identity_text.py)."""

from __future__ import annotations

import pytest

from models.identity_text import OcrLine, id_numbers_match, names_match, parse_id_card
from models.screen_apps import banned_in_title, fuzzy_contains


@pytest.mark.parametrize(
    ("title", "banned"),
    [
        ("ChatGPT - Google Chrome", "ChatGPT"),
        ("Chat GPT", "ChatGPT"),  # OCR split the word
        ("ChatGPl — Chrome", "ChatGPT"),  # one OCR slip
        ("Discord | #general", "Discord"),
        ("bing search", "Bing"),
    ],
)
def test_banned_titles_are_found_despite_case_spacing_and_ocr_slips(title, banned):
    assert banned_in_title(title) == banned


@pytest.mark.parametrize("title", ["climbing guide", "Notes", "Calculator", ""])
def test_harmless_titles_are_not_flagged(title):
    assert banned_in_title(title) is None


def test_an_allowed_title_is_never_flagged_even_if_it_names_a_banned_app():
    assert banned_in_title("ProctorLake exam ChatGPT") is None
    assert banned_in_title("ProctorLake exam ChatGPT", allowed=()) == "ChatGPT"


def test_an_exam_passes_its_own_banned_list():
    assert banned_in_title("Wolfram Alpha", banned=["Wolfram Alpha"]) == "Wolfram Alpha"
    assert banned_in_title("ChatGPT", banned=["Wolfram Alpha"]) is None


def test_fuzzy_contains_matches_whole_words_only():
    assert fuzzy_contains("open Slack now", "Slack")
    assert not fuzzy_contains("backslash", "Slack")
    assert not fuzzy_contains("", "Slack") and not fuzzy_contains("Slack", "")


@pytest.mark.parametrize(
    ("expected", "read"),
    [
        ("José Álvarez", "JOSE ALVAREZ"),  # accents and case
        ("Eileen Marie Collins", "Eileen Collins"),  # middle name on one side
        ("Eileen Collins", "COLLINS, EILEEN"),  # family name first
        ("Eileen Collins", "Eilcen Collins"),  # one OCR slip in a long part
        ("Bob Stone", "B0B ST0NE"),  # O read as 0
        ("Cher", "CHER"),
    ],
)
def test_names_that_name_the_same_person_match(expected, read):
    assert names_match(expected, read)


@pytest.mark.parametrize(
    ("expected", "read"),
    [
        ("Anna Smith", "Anne Smith"),  # a short part forgives no slip
        ("Eileen Collins", "Eileen Collier"),  # another family name
        ("Cher", "Cher Smith"),  # a mononym matches only a mononym
        ("Eileen Collins", ""),
    ],
)
def test_names_of_other_people_do_not_match(expected, read):
    assert not names_match(expected, read)


def test_id_numbers_match_up_to_dashes_case_and_confusable_shapes():
    assert id_numbers_match("G1906-1209", "g19061209")
    assert id_numbers_match("AB1O23", "AB1023")
    assert not id_numbers_match("1234567", "1234568")
    assert not id_numbers_match("", "")


def _lines(*texts: str) -> list[OcrLine]:
    return [OcrLine(t, 0.9, 20.0 * i, 10.0) for i, t in enumerate(texts)]


def test_id_card_fields_on_the_label_line():
    card = parse_id_card(_lines("UNIVERSITY CARD", "Name: Grace Hopper", "ID No. G1906-1209"))
    assert (card.name, card.id_number) == ("Grace Hopper", "G1906-1209")


def test_id_card_fields_on_the_line_below_their_labels():
    card = parse_id_card(_lines("Name", "Ada Lovelace", "Student number", "S 2024 0042"))
    assert (card.name, card.id_number) == ("Ada Lovelace", "S20240042")


def test_without_an_id_label_the_most_number_like_token_is_taken():
    card = parse_id_card(_lines("Valid 2026", "Card 77-1234", "AB-12345678", "Expires 2030"))
    assert (card.name, card.id_number) == (None, "AB-12345678")
