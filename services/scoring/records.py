"""From consumed Kafka records to the engine's input: accepted events, ticks, dead letters;
and the problem events (`shared.accepted_problem`) for the problem desk.

A record that cannot be parsed (or names a target the catalog lacks) goes to the scoring DLT
with its original key, bytes and headers plus the `x-dlt-*` ones; it never stalls the partition.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.scoring.engine import UnknownTargetEventError
from shared.accepted import AcceptedEvent
from shared.accepted_problem import AcceptedProblemEvent, accepted_from_json
from shared.contract.codec import decode_kafka_event
from shared.contract.events import ClockTick, parse_rfc3339
from shared.contract.reasons import ContractError
from shared.runtime.dead_letters import dead_letter_record
from shared.runtime.kafka import Record
from shared.runtime.publisher import Outbound


class NotAcceptedError(ValueError):
    """A consumed record is neither an accepted event nor a clock tick."""


@dataclass
class Parsed:
    events: list[AcceptedEvent] = field(default_factory=list)
    problems: list[AcceptedProblemEvent] = field(default_factory=list)
    ticks: list[datetime] = field(default_factory=list)
    dead: list[Outbound] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


def dead_letter(
    record: Record, dlt_topic: str, reason: str, error: BaseException, *, at: datetime
) -> Outbound:
    """The DLT record, by the services' one convention (`shared.runtime.dead_letters`)."""
    return dead_letter_record(dlt_topic, record, reason, f"{type(error).__name__}: {error}", at=at)


def parse_records(
    records: Sequence[Record],
    *,
    accepted_topic: str,
    clock_topic: str,
    dlt_topic: str,
    check: Callable[[AcceptedEvent], None],
    check_tick: Callable[[ClockTick], None],
    at: datetime,
) -> Parsed:
    """Accepted events (each passing `check`) and ticks (each passing `check_tick`: the clock's
    signature), the rest as dead letters with their reason (dead-lettered `at`)."""
    parsed = Parsed()
    for record in records:
        try:
            if record.topic == clock_topic:
                event = decode_kafka_event(record.value, record.headers)
                if not isinstance(event, ClockTick):
                    raise NotAcceptedError(
                        f"the clock topic carries clock ticks, not {event.envelope.type.value}"
                    )
                check_tick(event)
                parsed.ticks.append(parse_rfc3339(event.data.at))
            elif record.topic == accepted_topic:
                if not record.value:
                    raise NotAcceptedError("empty record: an accepted event is a JSON object")
                accepted = accepted_from_json(record.value)
                if isinstance(accepted, AcceptedProblemEvent):
                    parsed.problems.append(accepted)  # checked by ingest; the desk folds it
                else:
                    check(accepted)
                    parsed.events.append(accepted)
            else:
                raise NotAcceptedError(f"unexpected topic {record.topic!r}")
        except ContractError as exc:
            parsed.dead.append(dead_letter(record, dlt_topic, exc.reason.value, exc, at=at))
            parsed.reasons.append(exc.reason.value)
        except ValueError as exc:  # pydantic's ValidationError, NotAcceptedError, unknown targets
            reason = "unknown_target" if isinstance(exc, UnknownTargetEventError) else "malformed"
            parsed.dead.append(dead_letter(record, dlt_topic, reason, exc, at=at))
            parsed.reasons.append(reason)
    return parsed
