"""A size cap on every request body, enforced before any route reads it.

FastAPI parses JSON and multipart bodies (and Starlette spools multipart files to disk)
before a route's dependencies check the token, so without this an unauthenticated client
could make the API read or store any amount. The cap depends on the route: recording
segments and identity photos are large, everything else is small. A declared length over the
cap is refused at once; a body without one is counted as it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from models.identity_verification import MAX_BURST_FRAME_BYTES, MAX_BURST_FRAMES, MAX_IMAGE_BYTES
from realtime.api.errors import ApiProblem
from realtime.api.frame_intake import MAX_FRAME_BYTES
from realtime.api.problems import problem_at

SMALL_BODY_BYTES = 1024 * 1024
"""JSON bodies (sessions, actions, reviews, holds, tickets) are a few hundred bytes."""
IDENTITY_BODY_BYTES = 2 * MAX_IMAGE_BYTES + MAX_BURST_FRAMES * MAX_BURST_FRAME_BYTES + 1024 * 1024
"""An ID photo and a selfie at their cap, a full burst, and the multipart framing."""
_CHUNKS = re.compile(r"^/sessions/[^/]+/chunks/")
_FRAMES = re.compile(r"^/sessions/[^/]+/frames/")
_IDENTITY = re.compile(r"^/sessions/[^/]+/verify-identity$")


class RequestBodyTooLarge(ApiProblem):
    status = 413


def body_cap_for(max_segment_bytes: int) -> Callable[[str], int]:
    """The cap of a request path (the routes that stream their own bodies cap them too)."""

    def cap(path: str) -> int:
        if _CHUNKS.match(path):
            return max_segment_bytes
        if _FRAMES.match(path):
            return max(MAX_FRAME_BYTES.values())
        if _IDENTITY.match(path):
            return IDENTITY_BODY_BYTES
        return SMALL_BODY_BYTES

    return cap


class BodyCap:
    """ASGI middleware: 413 for a body over its route's cap, declared or counted."""

    def __init__(self, app, cap_for: Callable[[str], int]) -> None:
        self.app = app
        self.cap_for = cap_for

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope["path"])
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            await _refuse(
                scope, receive, send, f"request body is {int(declared)} bytes; the limit is {cap}"
            )
            return
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise RequestBodyTooLarge(f"request body passed the {cap}-byte limit")
            return message

        await self.app(scope, counted_receive, send)


async def _refuse(scope, receive, send, detail: str) -> None:
    """A problem-details 413 sent straight from the middleware (no route ran)."""
    response = problem_at(413, detail, scope["path"], headers={"Connection": "close"})
    await response(scope, receive, send)
