"""Where MediaPipe's face models live on disk, and which exact files they are.

The files come from the ``mediapipe==0.10.21`` wheel on PyPI (Apache-2.0; later wheels ship
no ``.tflite`` files), unpacked at set-up by ``proctorlake.storage.face_models``; nothing is
downloaded at run time. Pinned by SHA-256 so a changed wheel cannot change a detector silently.
"""

from __future__ import annotations

from pathlib import Path

from proctorlake.core.settings import load_settings

MEDIAPIPE_WHEEL = "mediapipe==0.10.21"

FACE_MODEL_FILES: dict[str, tuple[str, str]] = {
    "face_detection_short_range": (
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "face_landmark": (
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
    "iris_landmark": (
        "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
    ),
}
"""name -> (path inside the wheel, SHA-256 of the file)."""


def face_model_path(name: str, models_dir: Path | None = None) -> Path:
    """The unpacked ``.tflite`` file of one face model; set-up (``make setup``) puts it there."""
    root = models_dir or load_settings().models_dir
    path = root / "mediapipe" / Path(FACE_MODEL_FILES[name][0]).name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `make setup` (it unpacks MediaPipe's face models from "
            f"the {MEDIAPIPE_WHEEL} wheel)"
        )
    return path
