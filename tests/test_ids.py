"""Finding #2: ids are one path segment, checked in one place before any path or key is built."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av  # noqa: F401  (imported before anything that may import decord)
import numpy as np
import pytest

from proctorlake.core.ids import InvalidId, check_id, is_valid_id
from proctorlake.core.settings import REPO_ROOT
from proctorlake.governance import keystore
from proctorlake.governance.erasure.ids import MalformedId, check_session_id, check_student_id
from proctorlake.storage.object_store import (
    LocalObjectStore,
    chunk_key,
    manifest_key,
    object_keys_for_session,
)
from proctorlake.storage.video import write_video

BAD_IDS = ["", ".", "..", "...", "../x", "a/b", "a\\b", ".hidden", "-rf", "x" * 129, "a\n", None]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_issue2_id_rule_refuses_dot_only_separators_and_long_ids(bad) -> None:
    assert not is_valid_id(bad)
    with pytest.raises(InvalidId, match="session id .* malformed"):
        check_id("session id", bad)
    with pytest.raises(MalformedId):  # erasure asks the same rule
        check_session_id(bad)
    with pytest.raises(MalformedId):
        check_student_id(bad)


@pytest.mark.parametrize("good", ["s-0f3a", "stu-1", "uni-north", "course.link-7", "A" * 128])
def test_issue2_id_rule_keeps_real_ids(good) -> None:
    assert check_id("exam id", good) == good
    assert check_session_id(good) == good


def test_issue2_object_keys_and_key_files_refuse_bad_session_ids(settings, tmp_path) -> None:
    for build in (
        lambda: object_keys_for_session(".."),
        lambda: manifest_key(".."),
        lambda: chunk_key("..", "webcam", 0, "webm"),
        lambda: chunk_key("s-1", "..", 0, "webm"),
        lambda: keystore.session_key(settings, ".."),
    ):
        with pytest.raises(InvalidId):
            build()
    store = LocalObjectStore(tmp_path / "objects")
    for key in ("sessions/../webcam/a.webm", "../outside", "/abs", "sessions//x", "a/./b"):
        with pytest.raises(ValueError, match="malformed object key"):
            store.put_bytes(key, b"x")
        with pytest.raises(ValueError, match="malformed object key"):
            list(store.list(key))
    assert not (tmp_path / "objects").exists()


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_issue2_cli_ingest_refuses_dotdot_session_and_writes_nothing(tmp_path) -> None:
    frames = [np.full((32, 32, 3), 90, np.uint8)] * 5
    webcam = write_video(tmp_path / "in" / "webcam.webm", frames, 5, codec="libvpx")
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "PROCTORLAKE_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "proctorlake.app.cli", "ingest", "--session", ".."]
        + ["--student", "stu-1", "--exam", "exam-1", "--institution", "uni-a"]
        + ["--webcam", str(webcam)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "session_id '..' is malformed" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(home) == []
