"""notify's HTTP API, shaped like Alertmanager's v2 API where it overlaps:

- `POST /api/v2/silences` (create, or update with `id`) → `{"silenceID": ...}`
- `GET /api/v2/silences` (`filter` matchers, `active`/`pending`/`expired` flags),
  `GET /api/v2/silence/{id}`, `DELETE /api/v2/silence/{id}` (expire)
- `GET /api/v2/integrations/disabled`, `POST /api/v2/integrations/enable` (after a 410)
- `GET /api/v2/audit?limit=N`: the audit log, newest first

Authentication (`shared.runtime.auth`): changes need a bearer token with `silences:write`,
reads `silences:read` or `silences:write`. A silence's `createdBy` is the token's subject,
whatever the body says; every change (create, update, expire, integration enabled) is kept in
the audit log (`notify_audit`: who, when, what).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.notify.clock import Clock
from services.notify.domain.matchers import Matcher, MatcherError, MatchType, parse_filter
from services.notify.domain.silences import Silence, SilenceError, SilenceState, validate_silence
from services.notify.domain.timefmt import go_rfc3339
from services.notify.metrics import NotifyMetrics
from services.notify.store import NotifyStore
from shared.runtime.audit import AuditEntry
from shared.runtime.auth import SILENCES_READ, SILENCES_WRITE, Principal, require

Writer = Annotated[Principal, Depends(require(SILENCES_WRITE))]
Reader = Annotated[Principal, Depends(require(SILENCES_READ, SILENCES_WRITE))]
Filter = Annotated[list[str] | None, Query(description='Matchers such as `agency="qy.miit"`')]


class SilenceCreated(BaseModel):
    """Alertmanager's `postSilencesOKBody`."""

    silenceID: str  # noqa: N815 - Alertmanager's names


class SilenceExpired(SilenceCreated):
    status: Literal["expired"]


class DisabledIntegration(BaseModel):
    """An integration notify stopped sending to after a 410 Gone, until an operator enables it."""

    integration: str = Field(description="`<receiver>/<kind>/<index>`")
    receiver: str
    reason: str
    at: str = Field(description="When it was disabled (RFC 3339), empty if unknown")


class IntegrationEnabled(BaseModel):
    integration: str
    status: Literal["enabled"]


class MatcherBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    value: str
    isRegex: bool = False  # noqa: N815 - Alertmanager's names
    isEqual: bool = True  # noqa: N815

    def matcher(self) -> Matcher:
        if self.isRegex:
            kind = MatchType.REGEX if self.isEqual else MatchType.NOT_REGEX
        else:
            kind = MatchType.EQUAL if self.isEqual else MatchType.NOT_EQUAL
        return Matcher(self.name, kind, self.value)

    @staticmethod
    def of(matcher: Matcher) -> MatcherBody:
        regex = matcher.type in (MatchType.REGEX, MatchType.NOT_REGEX)
        equal = matcher.type in (MatchType.EQUAL, MatchType.REGEX)
        return MatcherBody(name=matcher.name, value=matcher.value, isRegex=regex, isEqual=equal)


class PostableSilence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    matchers: list[MatcherBody] = Field(min_length=1)
    startsAt: AwareDatetime | None = None  # noqa: N815 - default: now
    endsAt: AwareDatetime  # noqa: N815
    # Accepted for Alertmanager clients, never trusted: the token's subject is recorded.
    createdBy: str = ""  # noqa: N815
    comment: str = ""
    annotations: dict[str, str] = Field(default_factory=dict)  # Alertmanager >= 0.34

    def silence(self, author: str, now: datetime) -> Silence:
        """The silence to store (a new id unless `id` is given); 400 with the reason if
        Alertmanager would refuse it, an end already past included."""
        if self.endsAt <= now:
            raise HTTPException(400, "a silence's end time can't be in the past")
        try:
            return validate_silence(
                Silence(
                    id=self.id or str(uuid.uuid4()),
                    matchers=tuple(m.matcher() for m in self.matchers),
                    starts_at=self.startsAt or now,
                    ends_at=self.endsAt,
                    created_by=author,
                    comment=self.comment,
                    annotations=self.annotations,
                )
            )
        except (SilenceError, MatcherError) as exc:
            raise HTTPException(400, str(exc)) from None


class SilenceStatus(BaseModel):
    state: SilenceState


class GettableSilence(BaseModel):
    id: str
    status: SilenceStatus
    updatedAt: str  # noqa: N815
    matchers: list[MatcherBody]
    startsAt: str  # noqa: N815
    endsAt: str  # noqa: N815
    createdBy: str  # noqa: N815
    comment: str
    annotations: dict[str, str]


class EnableBody(BaseModel):
    integration: str


def gettable(silence: Silence, updated_at: datetime, now: datetime) -> GettableSilence:
    return GettableSilence(
        id=silence.id,
        status=SilenceStatus(state=silence.state(now)),
        updatedAt=go_rfc3339(updated_at),
        matchers=[MatcherBody.of(m) for m in silence.matchers],
        startsAt=go_rfc3339(silence.starts_at),
        endsAt=go_rfc3339(silence.ends_at),
        createdBy=silence.created_by,
        comment=silence.comment,
        annotations=silence.annotations,
    )


_STATES = (SilenceState.ACTIVE, SilenceState.PENDING, SilenceState.EXPIRED)


def _filter(items: list[str] | None) -> list[Matcher]:
    """The `filter` parameter's matchers; 400 with the reason for a bad one."""
    try:
        return parse_filter(items or [])
    except MatcherError as exc:
        raise HTTPException(400, str(exc)) from None


def alertmanager_order(silences: list[Silence], now: datetime) -> list[Silence]:
    """Alertmanager's `SortSilences`: active first, the next to end first; then pending, the
    next to start first; then expired, the latest ended first (ties by id)."""
    active = [s for s in silences if s.state(now) is SilenceState.ACTIVE]
    pending = [s for s in silences if s.state(now) is SilenceState.PENDING]
    expired = [s for s in silences if s.state(now) is SilenceState.EXPIRED]
    return [
        *sorted(active, key=lambda s: (s.ends_at, s.id)),
        *sorted(pending, key=lambda s: (s.starts_at, s.id)),
        *sorted(expired, key=lambda s: (-s.ends_at.timestamp(), s.id)),
    ]


def api_router(store: NotifyStore, clock: Clock, metrics: NotifyMetrics) -> APIRouter:
    router = APIRouter(prefix="/api/v2", tags=["silences"])

    @router.post("/silences")
    async def post_silence(body: PostableSilence, principal: Writer) -> SilenceCreated:
        now = clock.now()
        existing = None if body.id is None else await store.silence(body.id)
        if body.id is not None:
            if existing is None:
                raise HTTPException(404, f"silence {body.id} not found")
            if existing[0].state(now) is SilenceState.EXPIRED:
                raise HTTPException(409, f"silence {body.id} has expired; create a new one")
        silence = body.silence(principal.subject, now)
        await store.put_silence(silence, now)
        details: dict[str, Any] = {"silence": gettable(silence, now, now).model_dump(mode="json")}
        if existing is not None:
            details["before"] = gettable(existing[0], existing[1], now).model_dump(mode="json")
        action = "silence.update" if existing is not None else "silence.create"
        await store.record(principal.subject, action, silence.id, details, now)
        return SilenceCreated(silenceID=silence.id)

    @router.get("/silences")
    async def get_silences(
        _: Reader,
        *,
        filter: Filter = None,  # Alertmanager's parameter name
        active: bool = True,
        pending: bool = True,
        expired: bool = True,
    ) -> list[GettableSilence]:
        wanted = _filter(filter)
        states = {s for s, on in zip(_STATES, (active, pending, expired), strict=True) if on}
        now = clock.now()
        found = {
            s.id: (s, updated)
            for s, updated in await store.silences()
            if s.state(now) in states and s.has_matchers(wanted)
        }
        ordered = alertmanager_order([s for s, _ in found.values()], now)
        return [gettable(s, found[s.id][1], now) for s in ordered]

    @router.get("/silence/{silence_id}")
    async def get_silence(silence_id: str, _: Reader) -> GettableSilence:
        found = await store.silence(silence_id)
        if found is None:
            raise HTTPException(404, f"silence {silence_id} not found")
        return gettable(found[0], found[1], clock.now())

    @router.delete("/silence/{silence_id}")
    async def expire_silence(silence_id: str, principal: Writer) -> SilenceExpired:
        now = clock.now()
        found = await store.silence(silence_id)
        if found is None:
            raise HTTPException(404, f"silence {silence_id} not found")
        silence = found[0]
        state = silence.state(now)
        if state is SilenceState.EXPIRED:
            raise HTTPException(409, f"silence {silence_id} has already expired")
        update: dict[str, datetime] = {"ends_at": now}
        if state is SilenceState.PENDING:
            update["starts_at"] = now
        await store.put_silence(silence.model_copy(update=update), now)
        before = gettable(silence, found[1], now).model_dump(mode="json")
        await store.record(principal.subject, "silence.expire", silence_id, {"before": before}, now)
        return SilenceExpired(silenceID=silence_id, status="expired")

    @router.get("/integrations/disabled", tags=["receivers"])
    async def disabled(_: Reader) -> list[DisabledIntegration]:
        return [
            DisabledIntegration(
                integration=key,
                receiver=str(doc.get("receiver", "")),
                reason=str(doc.get("reason", "")),
                at=go_rfc3339(doc["at"]) if isinstance(doc.get("at"), datetime) else "",
            )
            for key, doc in sorted((await store.disabled()).items())
        ]

    @router.post("/integrations/enable", tags=["receivers"])
    async def enable(body: EnableBody, principal: Writer) -> IntegrationEnabled:
        if not await store.enable(body.integration):
            raise HTTPException(404, f"integration {body.integration} is not disabled")
        now = clock.now()
        await store.record(principal.subject, "integration.enable", body.integration, {}, now)
        metrics.receivers_disabled.set(len(await store.disabled()))
        return IntegrationEnabled(integration=body.integration, status="enabled")

    @router.get("/audit", tags=["audit"], response_model=list[AuditEntry])
    async def audit(
        _: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        return await store.entries(limit)

    return router
