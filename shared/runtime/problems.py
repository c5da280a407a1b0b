"""One error shape for every HTTP answer that is not a success: RFC 9457 problem details.

`{"type", "title", "status", "detail", "reason", ...}` as `application/problem+json`. `reason`
is the machine-readable name a client branches on (the same names ingest's dead letters and
receipts use where they overlap); `type` is `urn:planwatch:problem:<reason>`; extensions carry
what a client needs beside it (`errors` for a body that does not validate, `results` for the
ingest door's per-event answers). Every route's OpenAPI shows the shape (`PROBLEM_RESPONSES`).

Exception: Alertmanager's API v2 routes (`plain_prefixes`) answer errors as Alertmanager does,
a JSON string, since `amtool` and Grafana decode them so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.runtime.logging import get_logger

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:planwatch:problem:"
INVALID_REQUEST: Final = "invalid_request"
INTERNAL: Final = "internal"

log = get_logger(__name__)


class Problem(BaseModel):
    """RFC 9457 problem details, with planwatch's `reason`."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="urn:planwatch:problem:<reason>")
    title: str = Field(description="The HTTP status phrase.")
    status: int
    detail: str = Field(description="What went wrong, for a person.")
    reason: str = Field(description="What went wrong, for a program (snake_case).")
    instance: str | None = Field(None, description="The request path.")


PROBLEM_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    "4XX": {"model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}},
    "5XX": {"model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}},
}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_CONTENT_TYPE


def reason_for(status: int) -> str:
    """`not_found` for 404 and so on: the status phrase in snake_case."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "error"
    return "_".join(phrase.lower().replace("-", " ").split())


def problem(
    status: int,
    detail: str,
    *,
    reason: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> ProblemResponse:
    reason = reason or reason_for(status)
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + reason,
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason,
    }
    if instance is not None:
        body["instance"] = instance
    body.update(extensions)
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def _printable(value: object) -> str:
    """Text that encodes as UTF-8 whatever the client sent (a lone surrogate escaped)."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _from_http_exception(exc: StarletteHTTPException) -> tuple[str, str | None]:
    """(detail, reason): `detail` may be text or `{"error": reason, "message": text}`."""
    detail = exc.detail
    if isinstance(detail, Mapping):
        reason = detail.get("error")
        return _printable(detail.get("message", "")), str(reason) if reason else None
    return _printable(detail), None


def install_problem_handlers(app: FastAPI, *, plain_prefixes: Sequence[str] = ()) -> None:
    """Every error of `app` as problem details (paths under `plain_prefixes`: a JSON string)."""

    def plain(request: Request) -> bool:
        return any(request.url.path.startswith(p) for p in plain_prefixes)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail, reason = _from_http_exception(exc)
        if plain(request):
            return JSONResponse(detail, status_code=exc.status_code, headers=exc.headers)
        return problem(
            exc.status_code,
            detail,
            reason=reason,
            instance=request.url.path,
            headers=exc.headers,
        )

    async def invalid_body(request: Request, exc: Exception) -> JSONResponse:
        # Each problem's location and message, never the input: FastAPI's own answer echoes
        # it, and fails (a 500) on input JSON cannot carry back, such as NaN or "\ud800".
        raw = exc.errors() if isinstance(exc, RequestValidationError) else []
        errors: list[dict[str, Any]] = [
            {
                "loc": [_printable(part) for part in error.get("loc", ())],
                "msg": _printable(error.get("msg", "")),
                "type": _printable(error.get("type", "")),
            }
            for error in raw
        ]
        summary = "; ".join(
            f"{'.'.join(e['loc'])}: {e['msg']}" if e["loc"] else str(e["msg"]) for e in errors[:5]
        )
        if plain(request):
            return JSONResponse(summary or "invalid request", status_code=422)
        return problem(
            422,
            summary or "invalid request",
            reason=INVALID_REQUEST,
            instance=request.url.path,
            errors=errors,
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed", path=request.url.path, error=repr(exc))
        detail = "internal error; the service's log has the details"
        if plain(request):
            return JSONResponse(detail, status_code=500)
        return problem(500, detail, reason=INTERNAL, instance=request.url.path)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_body)
    app.add_exception_handler(Exception, unexpected)
