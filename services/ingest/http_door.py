"""`POST /v1/events`: the HTTP door (CloudEvents HTTP binding: binary, structured, batch).

Every event gets a result: `accepted` (checked and handed durably to the progress topic),
`duplicate` (already stored with the same content) or `rejected` (reason + message; also
dead-lettered). Status codes: 202 when no event was rejected, 400 when all were, 207 when
some were; 413 when the body is over the limit (not read, not dead-lettered); 429 with
`Retry-After` when the sender is over its rate (nothing processed); 503 with `Retry-After` when
Kafka or MongoDB is unavailable (nothing was accepted; send again).

Authentication (`shared.runtime.auth`): a bearer token with scope `events:write` (401 without a
valid token, 403 without the scope). An agency's token (claim `agency`) posts only that
agency's events: a request holding an event of another `source` is refused whole with 403
`forbidden_source` (nothing processed, nothing dead-lettered), defence in depth behind the
events' signatures. The rate limit is charged to the token's agency.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from services.ingest.http_answers import (
    REQUEST_BODY,
    RESPONSES,
    SCHEMAS_PATH,
    EventsAnswer,
)
from services.ingest.intake import EventResult, HttpItem, Intake, Status
from services.ingest.metrics import IngestMetrics
from services.ingest.rate_limit import TokenBuckets, retry_after_header
from shared.contract import jcs
from shared.contract.codec import (
    BATCH_CONTENT_TYPE,
    STRUCTURED_CONTENT_TYPE,
    decode_http,
    decode_structured,
)
from shared.contract.parsing import check_size
from shared.contract.reasons import ContractError, Reason
from shared.contract.schema import schema_files
from shared.runtime.auth import EVENTS_WRITE, Principal, require, source_refusal
from shared.runtime.kafka import is_transient
from shared.runtime.logging import get_logger
from shared.runtime.problems import problem

EVENTS_PATH: Final = "/v1/events"
CONTRACT_SCHEMAS: Final = schema_files()
RETRY_AFTER_S: Final = 5
# One request holds at most this many events: a larger batch is refused whole (`oversized`,
# one dead letter), before any per-item work (decoding, key look-ups, dead letters).
MAX_BATCH_ITEMS: Final = 100
UNATTRIBUTED: Final = "(unattributed)"  # the rate-limit bucket of requests with no decodable source

log = get_logger("planwatch.ingest.http")


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def request_items(
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_event_bytes: int,
    max_batch_bytes: int,
    max_batch_items: int = MAX_BATCH_ITEMS,
) -> list[HttpItem]:
    """The events of one request, each decoded or with the reason it could not be.

    Unlike `decode_http`, a batch is split item by item, so one bad item does not refuse the
    others. An undecodable body as a whole, or a batch of more than `max_batch_items` events,
    is one rejected item.
    """
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if _media_type(content_type) != BATCH_CONTENT_TYPE:
        try:
            decoded = decode_http(
                headers, body, max_bytes=max_event_bytes, max_batch_bytes=max_batch_bytes
            )
        except ContractError as exc:
            return [HttpItem(body, content_type, exc)]
        return [HttpItem(body, content_type, raw) for raw in decoded]
    try:
        check_size(len(body), max_batch_bytes)
        document = jcs.loads(body)
    except ContractError as exc:
        return [HttpItem(body, content_type, exc)]
    if not isinstance(document, list):
        error = ContractError(Reason.MALFORMED, "a batch must be a JSON array")
        return [HttpItem(body, content_type, error)]
    if len(document) > max_batch_items:
        error = ContractError(
            Reason.OVERSIZED,
            f"a batch holds at most {max_batch_items} events; this one has {len(document)}",
        )
        return [HttpItem(body, content_type, error)]
    items: list[HttpItem] = []
    for index, element in enumerate(document):
        try:
            item_body = jcs.canonicalize(element)
        except ContractError as exc:
            error = ContractError(exc.reason, f"batch item {index}: {exc.message}")
            items.append(HttpItem(repr(element).encode(), STRUCTURED_CONTENT_TYPE, error))
            continue
        try:
            raw = decode_structured(item_body, max_bytes=max_event_bytes)
        except ContractError as exc:
            error = ContractError(exc.reason, f"batch item {index}: {exc.message}")
            items.append(HttpItem(item_body, STRUCTURED_CONTENT_TYPE, error))
            continue
        items.append(HttpItem(item_body, STRUCTURED_CONTENT_TYPE, raw))
    return items


def status_code(results: list[EventResult]) -> int:
    rejected = sum(1 for r in results if r.status is Status.REJECTED)
    if rejected == 0:
        return 202
    if rejected == len(results):
        return 400
    return 207


def result_json(result: EventResult) -> dict[str, Any]:
    body: dict[str, Any] = {"id": result.event_id, "status": result.status.value}
    if result.reason is not None:
        body["reason"] = result.reason.value
        body["message"] = result.message
    return body


class _BodyTooLargeError(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _BodyTooLargeError
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _BodyTooLargeError
    return bytes(body)


def sender_of(items: list[HttpItem]) -> str:
    """Whom a request's events are charged to: the source of its first decodable event."""
    for item in items:
        if not isinstance(item.decoded, ContractError):
            return item.decoded.envelope.source
    return UNATTRIBUTED


def forbidden_source(principal: Principal, items: list[HttpItem]) -> str | None:
    """Why the principal may not post these events (the first one it may not), or None."""
    for item in items:
        if not isinstance(item.decoded, ContractError):
            envelope = item.decoded.envelope
            refusal = source_refusal(principal, envelope.source, envelope.agency)
            if refusal is not None:
                return refusal
    return None


def build_router(
    intake: Intake,
    *,
    max_event_bytes: int,
    max_batch_bytes: int,
    metrics: IngestMetrics | None = None,
    limiter: TokenBuckets | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> APIRouter:
    """`limiter`: per-sender token buckets (events per second); None: no rate limit."""
    router = APIRouter()

    def answer(
        code: int, content: dict[str, Any], headers: dict[str, str] | None = None
    ) -> JSONResponse:
        if metrics is not None:
            metrics.http_requests.labels(str(code)).inc()
        return JSONResponse(content, status_code=code, headers=headers)

    def refused(
        code: int,
        reason: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> JSONResponse:
        """A refusal as RFC 9457 problem details (`results` kept for per-event answers)."""
        if metrics is not None:
            metrics.http_requests.labels(str(code)).inc()
        return problem(
            code, message, reason=reason, instance=EVENTS_PATH, headers=headers, **extensions
        )

    @router.get(f"{SCHEMAS_PATH}/{{name}}", include_in_schema=False)
    async def contract_schema(name: str) -> Response:
        """The contract's JSON Schemas, public (the OpenAPI document refers to them)."""
        text = CONTRACT_SCHEMAS.get(name)
        if text is None:
            raise HTTPException(404, f"no schema {name!r}; there are {sorted(CONTRACT_SCHEMAS)}")
        return Response(text, media_type="application/schema+json")

    @router.post(
        EVENTS_PATH,
        status_code=202,
        response_model=EventsAnswer,
        responses=RESPONSES,
        openapi_extra={"requestBody": REQUEST_BODY},
    )
    async def post_events(
        request: Request, principal: Annotated[Principal, Depends(require(EVENTS_WRITE))]
    ) -> JSONResponse:
        content_type = request.headers.get("content-type", "")
        batch = _media_type(content_type) == BATCH_CONTENT_TYPE
        limit = max_batch_bytes if batch else max_event_bytes
        try:
            body = await _read_body(request, limit)
        except _BodyTooLargeError:
            message = f"the body exceeds the limit of {limit} bytes"
            result = EventResult(Status.REJECTED, None, Reason.OVERSIZED, message)
            return refused(413, Reason.OVERSIZED.value, message, results=[result_json(result)])
        items = request_items(
            dict(request.headers),
            body,
            max_event_bytes=max_event_bytes,
            max_batch_bytes=max_batch_bytes,
        )
        if not items:
            return refused(400, Reason.MALFORMED.value, "a batch must hold at least one event")
        refusal = forbidden_source(principal, items)
        if refusal is not None:
            log.warning("events refused: source not the token's agency", subject=principal.subject)
            return refused(403, "forbidden_source", refusal)
        if limiter is not None:
            sender = principal.agency or sender_of(items)
            wait_s = limiter.take(sender, len(items), monotonic())
            if wait_s > 0:
                # Nothing of the request was processed: the sender sends it again later.
                log.warning("rate limited", sender=sender, events=len(items))
                return refused(
                    429,
                    "rate_limited",
                    f"{sender}: more events per second than allowed; retry later",
                    {"Retry-After": retry_after_header(wait_s)},
                )
        try:
            results = await intake.http_events(items)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("HTTP intake unavailable", error=repr(exc))
            return refused(
                503,
                "unavailable",
                "Kafka or MongoDB is unavailable",
                {"Retry-After": str(RETRY_AFTER_S)},
            )
        content = [result_json(r) for r in results]
        code = status_code(results)
        if code == 400:  # every event refused: say why once, and per event in `results`
            reasons = {r.reason.value for r in results if r.reason is not None}
            reason = reasons.pop() if len(reasons) == 1 else "rejected"
            return refused(400, reason, "every event was refused", results=content)
        return answer(code, {"results": content})

    return router
