"""Errors the API answers as problem details: each names what was refused, and carries the
HTTP status to answer with (``realtime.api.problems`` renders them)."""

from __future__ import annotations


class ApiProblem(Exception):
    """Base of the API's refusals; ``status`` is the HTTP status."""

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class ThumbnailNotFound(ApiProblem):
    """The session has no live thumbnail (yet)."""

    status = 404
