"""Alertmanager's API v2, the parts its tools read (`amtool`, Grafana's Alertmanager data
source, karma), shaped as Alertmanager 0.35's OpenAPI document (api/v2/openapi.yaml):

- `GET /api/v2/status`: version, cluster (`disabled`: replicas share MongoDB, not gossip),
  the routing file (`config.original`, literal URLs masked) and the uptime;
- `GET /api/v2/receivers`: the routing file's receivers;
- `GET /api/v2/alerts`: every alert notify holds that has not resolved, with its receivers
  and its status at query time (silenced by, inhibited by), filtered as Alertmanager does
  (`active`, `silenced`, `inhibited`, `unprocessed`, `filter` matchers, `receiver` regex);
- `GET /api/v2/alerts/groups`: the aggregation groups with those alerts;
- `POST /api/v2/alerts`: refused (405): alerts come from scoring through Kafka only.

The silences (`/api/v2/silences`, `/api/v2/silence/{id}`) are in `api.py`. Reads need
`silences:read` (or `silences:write`), as the silences do; the alerts and their groups also
`alerts:ack` (who acknowledges an alert sees it: the dashboard's acknowledge button).
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable
from datetime import datetime
from importlib import metadata
from typing import Annotated, Final

import yaml
from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from services.notify.clock import Clock
from services.notify.domain.alert import Alert
from services.notify.domain.alert_marks import AlertMark, AlertQuery, labelset_key, mark
from services.notify.domain.config import RoutingConfig
from services.notify.domain.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    parse_filter,
)
from services.notify.domain.routing import match_routes
from services.notify.domain.timefmt import go_rfc3339
from services.notify.flushing import firing_alerts
from services.notify.records import GroupRecord
from services.notify.store import NotifyStore
from shared.runtime.auth import ALERTS_ACK, SILENCES_READ, SILENCES_WRITE, Principal, require

Reader = Annotated[Principal, Depends(require(SILENCES_READ, SILENCES_WRITE))]
AlertReader = Annotated[Principal, Depends(require(SILENCES_READ, SILENCES_WRITE, ALERTS_ACK))]
Writer = Annotated[Principal, Depends(require(SILENCES_WRITE))]
Filter = Annotated[list[str] | None, Query(description='Matchers such as `agency="qy.miit"`')]
StatusOf = Callable[[Alert], AlertMark]

# The Alertmanager release whose API v2 this imitates (its tools compare major.minor).
ALERTMANAGER_API_VERSION: Final = "0.35.0"
MASKED: Final = "<secret>"  # as Alertmanager masks secrets in its status


class ReceiverRef(BaseModel):
    name: str


class Receiver(BaseModel):
    name: str


class GettableAlertStatus(BaseModel):
    state: str
    silencedBy: list[str]  # noqa: N815 - Alertmanager's names
    inhibitedBy: list[str]  # noqa: N815
    mutedBy: list[str]  # noqa: N815 - time intervals: notify has none


class GettableAlert(BaseModel):
    labels: dict[str, str]
    annotations: dict[str, str]
    receivers: list[ReceiverRef]
    fingerprint: str
    startsAt: str  # noqa: N815
    updatedAt: str  # noqa: N815
    endsAt: str  # noqa: N815 - Go's zero time while firing, as in the webhook
    generatorURL: str  # noqa: N815
    status: GettableAlertStatus


class AlertGroup(BaseModel):
    labels: dict[str, str]
    routeLabels: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    receiver: ReceiverRef
    alerts: list[GettableAlert]


class ClusterStatus(BaseModel):
    status: str
    peers: list[dict[str, str]]


class VersionInfo(BaseModel):
    version: str
    revision: str
    branch: str
    buildUser: str  # noqa: N815
    buildDate: str  # noqa: N815
    goVersion: str  # noqa: N815


class ConfigText(BaseModel):
    original: str


class AlertmanagerStatus(BaseModel):
    cluster: ClusterStatus
    versionInfo: VersionInfo  # noqa: N815
    config: ConfigText
    uptime: str


def _planwatch_version() -> str:
    try:
        return metadata.version("planwatch")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def masked_routing(text: str) -> str:
    """The routing file for `/status`: its receivers' literal `url`s replaced by `<secret>`
    (a robot's URL carries its token); references (`env:`, `file:`) are names, kept."""
    if not text:
        return ""
    document = yaml.safe_load(text)  # already read by load_routing: bounded and valid
    if not isinstance(document, dict):
        return ""
    for receiver in document.get("receivers") or []:
        for key, configs in receiver.items():
            if not key.endswith("_configs") or not isinstance(configs, list):
                continue
            for config in configs:
                if isinstance(config, dict) and "url" in config:
                    config["url"] = MASKED
    dumped: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return dumped


def _query(
    filter_: list[str] | None,
    receiver: str | None,
    *,
    active: bool,
    silenced: bool,
    inhibited: bool,
    unprocessed: bool = True,
) -> AlertQuery:
    """The query; 400 with the reason for a bad matcher or receiver regex."""
    try:
        matchers = tuple(parse_filter(filter_ or []))
        regex = None if receiver is None else Matcher("receiver", MatchType.REGEX, receiver)
    except MatcherError as exc:
        raise HTTPException(400, str(exc)) from None
    return AlertQuery(active, silenced, inhibited, unprocessed, matchers, regex)


def gettable_alert(alert: Alert, receivers: Iterable[str], status: AlertMark) -> GettableAlert:
    return GettableAlert(
        labels=alert.labels,
        annotations=alert.annotations,
        receivers=[ReceiverRef(name=name) for name in receivers],
        fingerprint=alert.fingerprint,
        startsAt=go_rfc3339(alert.starts_at),
        updatedAt=go_rfc3339(alert.updated_at),
        endsAt=go_rfc3339(alert.ends_at),
        generatorURL=alert.generator_url,
        status=GettableAlertStatus(
            state=status.state.value,
            silencedBy=list(status.silenced_by),
            inhibitedBy=list(status.inhibited_by),
            mutedBy=[],
        ),
    )


# Alertmanager's own paths (silences included): errors there are a JSON string, as
# Alertmanager answers, since amtool and Grafana decode them so (shared.runtime.problems).
ALERTMANAGER_ERROR_PATHS: Final = (
    "/api/v2/silence",
    "/api/v2/status",
    "/api/v2/receivers",
    "/api/v2/alerts",
)


def alertmanager_router(
    config: RoutingConfig, store: NotifyStore, clock: Clock, started: datetime
) -> APIRouter:
    router = APIRouter(prefix="/api/v2", tags=["alertmanager"])

    async def snapshot() -> tuple[list[GroupRecord], list[Alert], StatusOf, datetime]:
        """The stored groups, the alerts firing (the latest version of each), the status of
        an alert (against those and the silences), and `now`."""
        now = clock.now()
        groups = await store.groups()
        firing = firing_alerts(groups, now)
        silences = [s for s, _ in await store.silences()]

        def status(alert: Alert) -> AlertMark:
            return mark(alert, firing, config.inhibit_rules, silences, now)

        return groups, firing, status, now

    @router.get("/status")
    async def status(_: Reader) -> AlertmanagerStatus:
        return AlertmanagerStatus(
            cluster=ClusterStatus(status="disabled", peers=[]),
            versionInfo=VersionInfo(
                version=ALERTMANAGER_API_VERSION,
                revision=f"planwatch-notify {_planwatch_version()}",
                branch="",
                buildUser="planwatch",
                buildDate="",
                goVersion=f"none (Python {platform.python_version()})",
            ),
            config=ConfigText(original=masked_routing(config.text)),
            uptime=go_rfc3339(started),
        )

    @router.get("/receivers")
    async def receivers(_: Reader) -> list[Receiver]:
        return [Receiver(name=name) for name in config.receivers]

    @router.get("/alerts")
    async def alerts(
        _: AlertReader,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        unprocessed: bool = True,
        filter: Filter = None,  # Alertmanager's parameter name
        receiver: str | None = None,
    ) -> list[GettableAlert]:
        query = _query(
            filter,
            receiver,
            active=active,
            silenced=silenced,
            inhibited=inhibited,
            unprocessed=unprocessed,
        )
        _groups, firing, status_of, now = await snapshot()
        found: list[GettableAlert] = []
        for alert in firing:
            names = [route.receiver for route in match_routes(config.route, alert.labels)]
            if query.receiver is not None and not any(map(query.admits_receiver, names)):
                continue
            alert_status = status_of(alert)
            if query.admits(alert, alert_status, now):
                found.append(gettable_alert(alert, names, alert_status))
        return sorted(found, key=lambda a: a.fingerprint)

    @router.post("/alerts", status_code=405)
    async def post_alerts(_: Writer) -> None:
        raise HTTPException(
            405,
            "notify takes alerts only from scoring, through the planwatch.alerts topic; "
            "POST /api/v2/alerts is not supported",
            headers={"Allow": "GET"},
        )

    @router.get("/alerts/groups")
    async def alert_groups(
        _: AlertReader,
        *,
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        muted: bool = True,  # groups muted by time intervals: notify has none
        filter: Filter = None,
        receiver: str | None = None,
    ) -> list[AlertGroup]:
        query = _query(filter, receiver, active=active, silenced=silenced, inhibited=inhibited)
        groups, _firing, status_of, now = await snapshot()
        chosen: list[tuple[GroupRecord, list[Alert]]] = []
        receivers_of: dict[str, set[str]] = {}
        for group in groups:
            state = group.state
            if not query.admits_receiver(state.receiver):
                continue
            kept = [a for a in state.alerts.values() if query.admits(a, status_of(a), now)]
            if not kept:
                continue
            for alert in kept:
                receivers_of.setdefault(alert.fingerprint, set()).add(state.receiver)
            chosen.append((group, sorted(kept, key=lambda a: a.fingerprint)))
        chosen.sort(key=lambda item: (labelset_key(item[0].state.labels), item[0].state.receiver))
        return [
            AlertGroup(
                labels=group.state.labels,
                receiver=ReceiverRef(name=group.state.receiver),
                alerts=[
                    gettable_alert(a, sorted(receivers_of[a.fingerprint]), status_of(a))
                    for a in kept
                ],
            )
            for group, kept in chosen
        ]

    return router
