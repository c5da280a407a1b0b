"""A rescored target's document: its state, its alerts, and its outbox (the points, history
records and score and alert messages that leave only after the document is written, so a
crash between the two is repaired on reload by flushing the stored outbox again)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from services.scoring.alert_payload import alert_events
from services.scoring.documents import (
    JSON,
    AlertStates,
    alerts_to_doc,
    history_record,
    iso,
    parse_instant,
    result_json,
    result_signature,
    scoped_to_doc,
    score_message,
    window_to_doc,
)
from services.scoring.result_doc import result_to_doc
from services.scoring.store import ScoringStore
from services.scoring.target_state import Batch, TargetState
from shared.contract.alert_event import encode_alert_event
from shared.domain.method_v1 import AlertTransition, alert_states, alert_transitions
from shared.runtime.publisher import Outbound, text_headers

Publisher = Callable[[Sequence[Outbound]], Awaitable[None]]
JSON_HEADERS = text_headers({"content-type": "application/json"})


@dataclass(frozen=True, slots=True)
class MessageTopics:
    scores: str
    alerts: str


def target_update(
    state: TargetState,
    batch: Batch,
    at: datetime,
    tick_trigger: str,
    *,
    topics: MessageTopics,
    base_url: str,
) -> tuple[JSON, AlertStates, list[AlertTransition]] | None:
    """The target's new document fields, alert states and alert transitions; None when
    nothing changed."""
    result = state.result
    assert result is not None
    after = result_json(result)
    before = state.stored_result
    previous = {rule: severity for rule, (severity, _) in state.stored_alerts.items()}
    current = alert_states(result)
    event = batch.last_event.get(state.key)
    trigger = event.event_id if event is not None else tick_trigger
    emitted = list(alert_transitions(state.plan.id, state.target.id, previous, current, trigger))
    if after == before and not emitted and state.key not in batch.touched:
        return None
    since = {rule: started for rule, (_, started) in state.stored_alerts.items()}
    alerts: AlertStates = {
        rule: (severity, since.get(rule, iso(at))) for rule, severity in current.items()
    }
    history: list[JSON] = []
    messages: list[Outbound] = []
    key_bytes = state.target.id.encode("utf-8")
    if result_signature(after) != result_signature(before):
        names = {"plan": state.plan.id, "target": state.target.id, "trigger": trigger}
        seq = state.history_seq + 1
        history.append(history_record(**names, at=at, before=before, after=after, seq=seq))
        messages.append(
            Outbound(
                topics.scores,
                _dumps(score_message(**names, at=at, before=before, after=after)),
                key=key_bytes,
                headers=JSON_HEADERS,
            )
        )
    for transition in emitted:
        started = since.get(transition.rule)
        copies = alert_events(  # one per responsible agency, same key: kept in order
            transition,
            result,
            state.plan,
            starts_at=parse_instant(started) if started is not None else at,
            base_url=base_url,
        )
        messages.extend(
            Outbound(
                topics.alerts,
                encode_alert_event(payload),
                key=key_bytes,
                headers=(*JSON_HEADERS, ("alert-id", payload.id.encode("utf-8"))),
            )
            for payload in copies
        )
    fields: JSON = {
        "plan": state.plan.id,
        "target": state.target.id,
        "window": window_to_doc(state.window),
        "last_report_at": iso(state.last_report_at) if state.last_report_at else None,
        "latest_event_at": iso(state.latest_event_at) if state.latest_event_at else None,
        "result": after,
        "result_full": result_to_doc(result),
        "alerts": alerts_to_doc(alerts),
        "scoped": [scoped_to_doc(w) for _, w in sorted(state.scoped.items())],
        "history_seq": state.history_seq + len(history),
        "outbox": {
            "points": batch.point_writes.get(state.key, []),
            "history": history,
            "messages": [message_doc(m) for m in messages],
        },
        "clock": iso(at),
    }
    return fields, alerts, emitted


async def flush_outboxes(store: ScoringStore, publish: Publisher, outboxes: Sequence[JSON]) -> None:
    """Points and history records (idempotent inserts), then the messages."""
    points = [p for box in outboxes for p in box.get("points", [])]
    history = [h for box in outboxes for h in box.get("history", [])]
    messages = [message_from_doc(m) for box in outboxes for m in box.get("messages", [])]
    await store.insert_points(points)
    await store.insert_history(history)
    await publish(messages)


def message_doc(message: Outbound) -> JSON:
    return {
        "topic": message.topic,
        "key": message.key.decode("utf-8") if message.key is not None else None,
        "value": message.value.decode("utf-8"),
        "headers": {name: value.decode("utf-8") for name, value in message.headers},
    }


def message_from_doc(doc: Mapping[str, object]) -> Outbound:
    key = doc.get("key")
    headers = doc.get("headers") or {}
    assert isinstance(headers, dict)
    return Outbound(
        topic=str(doc["topic"]),
        value=str(doc["value"]).encode("utf-8"),
        key=str(key).encode("utf-8") if key is not None else None,
        headers=text_headers({str(k): str(v) for k, v in headers.items()}),
    )


def _dumps(data: JSON) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
