"""A scripted exam client over the public HTTP API, for the demo and benchmarks.

It does what the browser page does (create/start a session, one JPEG a second, WebM
segments, end) and follows the proctors' live feed, using only documented endpoints.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass, field

import httpx
import numpy as np
from PIL import Image


def encode_jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@dataclass
class ExamClient:
    base_url: str
    staff_token: str
    timeout_s: float = 60.0
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base_url, timeout=self.timeout_s)

    def close(self) -> None:
        self.http.close()

    def _check(self, response: httpx.Response) -> dict:
        if response.is_error:
            raise RuntimeError(
                f"{response.request.method} {response.request.url}: "
                f"{response.status_code} {response.text[:300]}"
            )
        return response.json()

    def create_session(self, exam_id: str, student_id: str, institution_id: str) -> dict:
        return self._check(
            self.http.post(
                "/sessions",
                json={
                    "exam_id": exam_id,
                    "student_id": student_id,
                    "institution_id": institution_id,
                },
                headers={"Authorization": f"Bearer {self.staff_token}"},
            )
        )

    def send_frame(
        self, session: dict, jpeg: bytes, captured_at_ms: int, track: str = "webcam"
    ) -> dict:
        return self._check(
            self.http.post(
                session["endpoints"][f"{track}_frames"],
                content=jpeg,
                headers={
                    "Authorization": f"Bearer {session['token']}",
                    "Content-Type": "image/jpeg",
                    "X-Captured-At-Ms": str(captured_at_ms),
                },
            )
        )

    def upload_segment(
        self, session: dict, webm: bytes, start_ms: int, end_ms: int, track: str = "webcam"
    ) -> dict:
        return self._check(
            self.http.post(
                session["endpoints"][f"{track}_chunks"],
                params={"chunk_start_ms": start_ms, "chunk_end_ms": end_ms},
                content=webm,
                headers={
                    "Authorization": f"Bearer {session['token']}",
                    "Content-Type": "video/webm",
                },
            )
        )

    def end_session(self, session: dict) -> dict:
        return self._check(
            self.http.post(
                f"/sessions/{session['session_id']}/end",
                headers={"Authorization": f"Bearer {session['token']}"},
            )
        )


@dataclass
class ProctorLiveFollower:
    """Follows ``/proctoring/live`` in a thread and keeps every incident event it sees."""

    base_url: str
    staff_token: str
    min_severity: str = "medium"
    events: list[dict] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ProctorLiveFollower:
        threading.Thread(target=self._follow, daemon=True).start()
        if not self.ready.wait(30):
            raise RuntimeError("the live feed did not answer within 30 s")
        return self

    def stop(self) -> None:
        self._stop.set()

    def _follow(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(10, read=None)) as client:
            # a token never goes into a URL: exchange it for a single-use stream ticket
            exchange = client.post(
                "/auth/stream-tickets",
                json={"path": "/proctoring/live"},
                headers={"Authorization": f"Bearer {self.staff_token}"},
            )
            exchange.raise_for_status()
            params = {"ticket": exchange.json()["ticket"], "severity": self.min_severity}
            self._read(client, params)

    def _read(self, client: httpx.Client, params: dict) -> None:
        with client.stream("GET", "/proctoring/live", params=params) as response:
            kind = None
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("event:"):
                    kind = line[6:].strip()
                    if kind == "ready":
                        self.ready.set()
                elif line.startswith("data:") and kind == "incident":
                    self.events.append(json.loads(line[5:]))
