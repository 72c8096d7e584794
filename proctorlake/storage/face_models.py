"""Set-up: MediaPipe's face models from the ``mediapipe`` wheel on PyPI into ``models_dir``.

Only the wheel is downloaded (``pip download --no-deps``), never installed: mediapipe pins
numpy<2 and protobuf<5. The three ``.tflite`` files are unpacked and checked against the
SHA-256 sums that ``models.face_model_files`` pins. Idempotent: files already present with the
right sums are kept and nothing is fetched.

Run ``python -m proctorlake.storage.face_models`` by hand; ``scripts/setup.sh`` does.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from models.face_model_files import FACE_MODEL_FILES, MEDIAPIPE_WHEEL
from proctorlake.core.settings import load_settings

# The .tflite files are the same in every platform's wheel; pinning one lets set-up fetch it
# from any host (macOS, arm64) without a matching mediapipe build.
_WHEEL_PLATFORM = ("--python-version", "3.11", "--platform", "manylinux_2_28_x86_64")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def missing_face_models(models_dir: Path) -> list[str]:
    """Names of the face models not (or not correctly) unpacked under ``models_dir``."""
    target = models_dir / "mediapipe"
    return [
        name
        for name, (inner, digest) in FACE_MODEL_FILES.items()
        if not (target / Path(inner).name).is_file() or _sha256(target / Path(inner).name) != digest
    ]


def unpack_face_models(wheel: Path, models_dir: Path) -> None:
    """The pinned ``.tflite`` files out of a mediapipe wheel, checked by SHA-256."""
    target = models_dir / "mediapipe"
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for inner, digest in FACE_MODEL_FILES.values():
            data = archive.read(inner)
            if hashlib.sha256(data).hexdigest() != digest:
                raise RuntimeError(f"{inner} in {wheel.name} does not match its pinned SHA-256")
            partial = target / (Path(inner).name + ".part")
            partial.write_bytes(data)
            partial.replace(target / Path(inner).name)


def ensure_face_models(models_dir: Path | None = None) -> Path:
    """Fetch and unpack the face models unless they are already there; returns their folder."""
    models_dir = models_dir or load_settings().models_dir
    if missing_face_models(models_dir):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
                + ["--only-binary=:all:", *_WHEEL_PLATFORM, "-d", tmp, MEDIAPIPE_WHEEL],
                check=True,
            )
            (wheel,) = Path(tmp).glob("mediapipe-*.whl")
            unpack_face_models(wheel, models_dir)
    return models_dir / "mediapipe"


if __name__ == "__main__":
    print(ensure_face_models())
