"""A headless Chromium that runs the exam page with a scripted camera (demo and bench).

The page publishes over WebRTC to the media gateway, as a student's browser does, so the
demo's live session is recorded and sampled by the server. Debian's ``chromium``; the camera
is a y4m file (:func:`proctorlake.samples.webcam.write_y4m`) played by Chromium's fake
capture device; ``--allow-loopback-in-peer-connection`` because the local gateway is on
127.0.0.1, where Chromium gathers no ICE candidate unless told.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

CHROMIUM = "/usr/bin/chromium"


def stop_browser(process: subprocess.Popen) -> None:
    """Ask Chromium to quit; kill it when it has not within 20 s (a hung renderer)."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class ExamBrowser:
    """One headless Chromium showing one page; closed (and its profile removed) on exit."""

    def __init__(self, url: str, camera_y4m: Path, log_path: Path) -> None:
        if not Path(CHROMIUM).exists():
            raise RuntimeError("Debian's chromium is not installed (make setup installs it)")
        self.profile = Path(tempfile.mkdtemp(prefix="proctorlake-exam-browser-"))
        self._log = open(log_path, "ab")  # noqa: SIM115 (the browser's log while it runs)
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={camera_y4m}",
                "--auto-select-desktop-capture-source=Entire screen",
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                # A laptop-sized window: headless Chromium's default (800x600) is under the
                # exam policy's window floor, so the page would report window_too_small.
                "--window-size=1280,800",
                url,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def close(self) -> None:
        stop_browser(self.process)
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> ExamBrowser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
