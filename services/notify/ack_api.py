"""Acknowledging alerts over HTTP (RFC 9457 problem details on errors):

- `POST /api/v1/alerts/{fingerprint}/ack` `{"receiver", "note", "until"}`: the caller (the
  token's subject) acknowledges the alert's current firing episode for that receiver;
  acknowledging again replaces the caller's earlier acknowledgement.
- `DELETE /api/v1/alerts/{fingerprint}/ack?receiver=R`: the caller withdraws theirs.
- `GET /api/v1/acks?fingerprint=&receiver=&active=`: the acknowledgements, newest first.

Changes need `alerts:ack`; reads `alerts:ack`, `silences:read` or `silences:write`. Every change
is kept in the audit log (`ack.create`, `ack.update`, `ack.withdraw`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.notify.clock import Clock
from services.notify.domain.acks import MAX_NOTE, AckError, Acknowledgement, ack_id, validate_ack
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig
from services.notify.domain.timefmt import go_rfc3339
from services.notify.flushing import firing_alerts
from services.notify.store import NotifyStore
from shared.runtime.auth import ALERTS_ACK, SILENCES_READ, SILENCES_WRITE, Principal, require

Acker = Annotated[Principal, Depends(require(ALERTS_ACK))]
Reader = Annotated[Principal, Depends(require(ALERTS_ACK, SILENCES_READ, SILENCES_WRITE))]


class PostableAck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receiver: str = Field(min_length=1, description="The receiver acknowledged for")
    note: str = Field(default="", max_length=MAX_NOTE)
    until: AwareDatetime | None = Field(default=None, description="Default: until withdrawn")


class AckView(BaseModel):
    fingerprint: str
    receiver: str
    by: str
    note: str
    at: str
    until: str | None
    startsAt: str | None  # noqa: N815 - the firing episode acknowledged (Alertmanager's style)
    active: bool

    @staticmethod
    def of(ack: Acknowledgement, now: datetime) -> AckView:
        return AckView(
            fingerprint=ack.fingerprint,
            receiver=ack.receiver,
            by=ack.by,
            note=ack.note,
            at=go_rfc3339(ack.at),
            until=None if ack.until is None else go_rfc3339(ack.until),
            startsAt=None if ack.starts_at is None else go_rfc3339(ack.starts_at),
            active=ack.active(now),
        )


async def _firing(store: NotifyStore, fingerprint: str, now: datetime) -> Alert:
    for alert in firing_alerts(await store.groups(), now):
        if alert.fingerprint == fingerprint:
            return alert
    raise HTTPException(404, f"no firing alert {fingerprint}")


def ack_router(config: RoutingConfig, store: NotifyStore, clock: Clock) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["acknowledgements"])

    @router.post("/alerts/{fingerprint}/ack")
    async def acknowledge(fingerprint: str, body: PostableAck, principal: Acker) -> AckView:
        now = clock.now()
        if body.receiver not in config.receivers:
            raise HTTPException(400, f"unknown receiver {body.receiver!r}")
        alert = await _firing(store, fingerprint, now)
        try:
            ack = validate_ack(
                Acknowledgement(
                    fingerprint=fingerprint,
                    receiver=body.receiver,
                    by=principal.subject,
                    note=body.note,
                    at=now,
                    until=body.until,
                    starts_at=alert.starts_at,
                ),
                now,
            )
        except AckError as exc:
            raise HTTPException(400, str(exc)) from None
        before = next((a for a in await store.acks() if a.id == ack.id), None)
        await store.put_ack(ack)
        details = {"ack": ack.model_dump(mode="json")}
        if before is not None:
            details["before"] = before.model_dump(mode="json")
        action = "ack.update" if before is not None else "ack.create"
        await store.record(principal.subject, action, ack.id, details, now)
        return AckView.of(ack, now)

    @router.delete("/alerts/{fingerprint}/ack")
    async def withdraw(
        fingerprint: str, principal: Acker, receiver: Annotated[str, Query(min_length=1)]
    ) -> AckView:
        now = clock.now()
        gone = await store.delete_ack(ack_id(fingerprint, receiver, principal.subject))
        if gone is None:
            raise HTTPException(404, f"you have not acknowledged {fingerprint} for {receiver!r}")
        details = {"before": gone.model_dump(mode="json")}
        await store.record(principal.subject, "ack.withdraw", gone.id, details, now)
        return AckView.of(gone.model_copy(update={"until": now}), now)

    @router.get("/acks")
    async def acks(
        _: Reader,
        fingerprint: str | None = None,
        receiver: str | None = None,
        active: bool | None = None,
    ) -> list[AckView]:
        now = clock.now()
        found = [
            a
            for a in await store.acks()
            if fingerprint in (None, a.fingerprint)
            and receiver in (None, a.receiver)
            and active in (None, a.active(now))
        ]
        found.sort(key=lambda a: (-a.at.timestamp(), a.id))
        return [AckView.of(a, now) for a in found]

    return router
