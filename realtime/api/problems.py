"""Errors as HTTP problem details (RFC 9457, ``application/problem+json``)."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError

from proctorlake.core.ids import InvalidId
from proctorlake.governance.erased_sessions import SessionErased
from proctorlake.services.reviews import IncidentNotFound
from realtime.api.auth import SessionTokensRevoked, TokenError
from realtime.api.errors import ApiProblem
from realtime.api.request_limits import RateLimited
from realtime.api.session_registry import SessionClosed, UnknownSession

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    503: "Service unavailable",
}


def problem(
    status: int, detail: str, request: Request, headers: dict | None = None, **extra
) -> JSONResponse:
    return problem_at(status, detail, request.url.path, headers, **extra)


def problem_at(
    status: int, detail: str, path: str, headers: dict | None = None, **extra
) -> JSONResponse:
    """A problem-details response for ``path`` (middleware has a path, not a Request)."""
    body = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": path,
        **extra,
    }
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class Forbidden(PermissionError):
    """The token is valid but does not reach this resource."""


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        return problem(422, f"invalid request: {detail}", request, errors=errors)

    @app.exception_handler(InvalidId)
    async def _invalid_id(request: Request, exc: InvalidId) -> JSONResponse:
        return problem(400, str(exc), request)

    @app.exception_handler(TokenError)
    async def _token(request: Request, exc: TokenError) -> JSONResponse:
        if isinstance(exc, SessionTokensRevoked):
            return problem(409, str(exc), request)
        return problem(401, str(exc), request)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return problem(403, str(exc), request)

    @app.exception_handler(UnknownSession)
    async def _unknown(request: Request, exc: UnknownSession) -> JSONResponse:
        return problem(404, f"no session {exc.args[0]!r}", request)

    @app.exception_handler(IncidentNotFound)
    async def _no_incident(request: Request, exc: IncidentNotFound) -> JSONResponse:
        return problem(404, str(exc), request)

    @app.exception_handler(SessionClosed)
    async def _closed(request: Request, exc: SessionClosed) -> JSONResponse:
        return problem(409, str(exc), request)

    @app.exception_handler(SessionErased)
    async def _erased(request: Request, exc: SessionErased) -> JSONResponse:
        return problem(410, f"{exc}: its tokens no longer work and nothing is accepted", request)

    @app.exception_handler(ApiProblem)
    async def _rejected(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, str(exc), request)

    @app.exception_handler(RateLimited)
    async def _limited(request: Request, exc: RateLimited) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after_s)}
        return problem(429, str(exc), request, headers=headers, retry_after_s=exc.retry_after_s)

    @app.exception_handler(KafkaError)
    async def _broker(request: Request, exc: KafkaError) -> JSONResponse:
        detail = f"the event broker did not acknowledge in time ({type(exc).__name__}); retry"
        return problem(503, detail, request)

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError) -> JSONResponse:
        return problem(400, str(exc), request)
