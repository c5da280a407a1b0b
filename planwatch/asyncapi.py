"""The AsyncAPI 3 document of every Kafka topic, generated from the code.

`planwatch asyncapi` writes it (to docs/asyncapi.yaml, or `--out FILE`); a unit test checks
that the committed file equals what this module generates, another validates the records the
services really write against the document's payload schemas, and an integration test runs the
AsyncAPI CLI on it.

Where the names come from: topic names, partition counts and topic configurations from
`shared.topics`; the progress and clock payloads are the contract's JSON Schemas in
`docs/schemas/` (referenced by a relative `$ref`, not copied); `planwatch.accepted` (reports and
retractions, and problem events) and the alert payloads are the pydantic models the services
parse with; the dead-letter header names
are ingest's constants. Who publishes and who subscribes is stated once, in `CHANNELS`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, Final

import typer
import yaml
from pydantic import BaseModel

from shared import topics
from shared.accepted import AcceptedEvent
from shared.accepted_problem import AcceptedProblemEvent
from shared.contract.alert_event import AlertEvent
from shared.contract.codec import KAFKA_PREFIX, STRUCTURED_CONTENT_TYPE
from shared.contract.events import PROBLEM_TYPES, Envelope, EventType
from shared.runtime.dead_letters import ALWAYS_SET, DLT_HEADERS

ASYNCAPI_VERSION: Final = "3.1.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
SCHEMAS_DIR: Final = "./schemas"  # relative to the document (docs/asyncapi.yaml)
DEFAULT_OUTPUT: Final = Path("docs/asyncapi.yaml")


JSON = dict[str, Any]


@dataclass(frozen=True)
class Channel:
    """One topic: its messages, its key, and the parties on each side."""

    id: str
    topic: str
    summary: str
    messages: tuple[str, ...]
    key: str
    publishers: tuple[str, ...]
    subscribers: tuple[str, ...]
    internal: bool = False
    extra: JSON = field(default_factory=dict)


# Parties: the three services, and those outside them.
PARTIES: Final[dict[str, str]] = {
    "agency": "An agency's system or `planwatch publish`: signs and sends progress events.",
    "clock": "The platform's clock (`planwatch tick`, a CronJob): signed ticks.",
    "ingest": "services/ingest: validates, authenticates, authorises and stores events.",
    "scoring": "services/scoring: scores targets, rolls up, raises alerts.",
    "notify": "services/notify: routes, groups, silences and delivers alerts.",
    "operator": "Whoever runs planwatch: reads the dead-letter topics.",
    "consumer": "A downstream consumer (a data platform, a bridge to another system).",
}

CHANNELS: Final[tuple[Channel, ...]] = (
    Channel(
        "progress",
        topics.PROGRESS,
        "Agency events in (CloudEvents 1.0, binary or structured mode): progress, and problems "
        "raised and followed.",
        (
            "progressReportedBinary",
            "progressRetractedBinary",
            "problemBinary",
            "progressStructured",
        ),
        "The target id (the event's `subject`; a problem's target or task), so a target's "
        "events stay in order.",
        publishers=("agency",),
        subscribers=("ingest",),
    ),
    Channel(
        "progressDeadLetters",
        topics.PROGRESS_DLT,
        "Rejected agency events: the original bytes (bounded) and why.",
        ("ingestDeadLetter",),
        "The original record's key (or none when it was too long; see x-dlt-key-sha256).",
        publishers=("ingest",),
        subscribers=("operator",),
    ),
    Channel(
        "accepted",
        topics.ACCEPTED,
        "Accepted events, normalised to the target's unit, and accepted problem events: what "
        "scoring reads (told apart by `schema`).",
        ("accepted", "acceptedProblem"),
        "The target id (a problem event's: its subject, the target or task).",
        publishers=("ingest",),
        subscribers=("scoring",),
    ),
    Channel(
        "clock",
        topics.CLOCK,
        "Platform clock ticks: time has passed (staleness, deadlines).",
        ("clockTick",),
        "None.",
        publishers=("clock",),
        subscribers=("scoring",),
    ),
    Channel(
        "scoringClock",
        topics.SCORING_CLOCK,
        "Internal: the instants to which reports moved a scoring replica's clock.",
        ("clockSync",),
        "None.",
        publishers=("scoring",),
        subscribers=("scoring",),
        internal=True,
    ),
    Channel(
        "scores",
        topics.SCORES,
        "A target's score changed.",
        ("scoreUpdate",),
        "The target id.",
        publishers=("scoring",),
        subscribers=("consumer",),
    ),
    Channel(
        "alerts",
        topics.ALERTS,
        "Alert transitions, one copy per responsible agency (lead and co-owners).",
        ("alert",),
        "The target id.",
        publishers=("scoring",),
        subscribers=("notify",),
    ),
    Channel(
        "scoringDeadLetters",
        topics.SCORING_DLT,
        "Records scoring could not apply (a bad tick, a malformed accepted record).",
        ("scoringDeadLetter",),
        "The original record's key.",
        publishers=("scoring",),
        subscribers=("operator",),
    ),
    Channel(
        "notifyGroups",
        topics.NOTIFY_GROUPS,
        "Internal: alerts re-keyed by aggregation group; a group's owner is the notify "
        "replica assigned its partition.",
        ("groupedAlert",),
        "The aggregation group id.",
        publishers=("notify",),
        subscribers=("notify",),
        internal=True,
    ),
    Channel(
        "notifications",
        topics.NOTIFICATIONS,
        "Notifications for Kafka receivers (Alertmanager's webhook JSON, version 4), and "
        "operational records about notify's own receivers.",
        ("notification", "operationalAlert"),
        "The group key (notifications) or the integration (operational records).",
        publishers=("notify",),
        subscribers=("consumer",),
    ),
    Channel(
        "notificationDeadLetters",
        topics.NOTIFICATIONS_DLT,
        "Notifications past their retry budget, with the last reason.",
        ("notificationDeadLetter",),
        "The group key.",
        publishers=("notify",),
        subscribers=("operator",),
    ),
)


def _string_headers(names: tuple[str, ...], required: tuple[str, ...] = ()) -> JSON:
    return {
        "type": "object",
        "properties": {name: {"type": "string"} for name in names},
        "required": list(required),
    }


def _json_content_headers(*extra: str) -> JSON:
    return _string_headers(("content-type", *extra), ("content-type",))


def _binary_mode_headers() -> JSON:
    """CloudEvents Kafka binary mode: every context attribute as a `ce_` header."""
    # `datacontenttype` travels as `content-type` (the CloudEvents Kafka binding).
    attributes = [n for n in Envelope.model_fields if n not in ("extensions", "datacontenttype")]
    required = ("specversion", "id", "source", "type", "time")
    return {
        "type": "object",
        "description": "Context attributes as `ce_<name>` headers (UTF-8); other `ce_` "
        "headers are extension attributes, carried but not signed.",
        "properties": {
            "content-type": {"const": "application/json"},
            **{f"{KAFKA_PREFIX}{name}": {"type": "string"} for name in attributes},
        },
        "required": ["content-type", *(f"{KAFKA_PREFIX}{name}" for name in required)],
    }


def _problem_types() -> list[EventType]:
    return [t for t in EventType if t in PROBLEM_TYPES]


def _contract_schema(event_type: EventType, pointer: str = "") -> JSON:
    return {"$ref": f"{SCHEMAS_DIR}/{event_type.value}.json{pointer}"}


def _model_schema(model: type[BaseModel], schemas: JSON) -> JSON:
    """The model's JSON Schema, its definitions hoisted into components/schemas."""
    schema = model.model_json_schema(
        by_alias=True, ref_template="#/components/schemas/{model}", mode="serialization"
    )
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _webhook_alert_schema() -> JSON:
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "type": "object",
        "required": [
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint",
        ],
        "properties": {
            "status": {"enum": ["firing", "resolved"]},
            "labels": labels,
            "annotations": labels,
            "startsAt": {"type": "string", "format": "date-time"},
            "endsAt": {"type": "string", "format": "date-time"},
            "generatorURL": {"type": "string"},
            "fingerprint": {"type": "string"},
        },
    }


def _webhook_message_schema() -> JSON:
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "type": "object",
        "description": "Alertmanager's webhook JSON, version 4, as notify's webhooks send it.",
        "required": [
            "receiver",
            "status",
            "alerts",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "version",
            "groupKey",
            "truncatedAlerts",
        ],
        "additionalProperties": False,
        "properties": {
            "receiver": {"type": "string"},
            "status": {"enum": ["firing", "resolved"]},
            "alerts": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookAlert"}},
            "groupLabels": labels,
            "commonLabels": labels,
            "commonAnnotations": labels,
            "externalURL": {"type": "string"},
            "version": {"const": "4"},
            "groupKey": {"type": "string"},
            "truncatedAlerts": {"type": "integer", "minimum": 0},
        },
    }


def _score_update_schema() -> JSON:
    return {
        "type": "object",
        "description": "One target's new result (method v1.1's fields, as in the read API).",
        "required": ["id", "plan", "target", "method", "trigger", "at", "result"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string", "description": "<plan>:<target>:<trigger>"},
            "plan": {"type": "string"},
            "target": {"type": "string"},
            "method": {"type": "string"},
            "trigger": {"type": "string", "description": "The event id or tick that caused it."},
            "at": {"type": "string", "format": "date-time"},
            "previous_status": {"type": ["string", "null"]},
            "result": {
                "type": "object",
                "required": ["status", "method"],
                "properties": {"status": {"type": "string"}, "method": {"type": "string"}},
            },
        },
    }


def _clock_sync_schema() -> JSON:
    return {
        "type": "object",
        "required": ["at"],
        "additionalProperties": False,
        "properties": {"at": {"type": "string", "format": "date-time"}},
    }


def _notification_dead_letter_schema() -> JSON:
    return {
        "type": "object",
        "required": [
            "kind",
            "notification",
            "webhookId",
            "receiver",
            "integration",
            "groupKey",
            "reason",
            "attempts",
            "deadAt",
        ],
        "properties": {
            "kind": {"const": "planwatch.notify.dead_letter"},
            "notification": {"type": "string"},
            "webhookId": {"type": "string"},
            "receiver": {"type": "string"},
            "integration": {"type": "string"},
            "groupKey": {"type": "string"},
            "reason": {"type": "string"},
            "attempts": {"type": "integer", "minimum": 0},
            "firstAttemptAt": {"type": ["string", "null"], "format": "date-time"},
            "deadAt": {"type": "string", "format": "date-time"},
            "message": {"$ref": "#/components/schemas/WebhookMessage"},
        },
    }


def _operational_alert_schema() -> JSON:
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "type": "object",
        "description": "An alert-like record (Alertmanager's alert fields) about notify's own "
        "receivers, e.g. an integration disabled after HTTP 410.",
        "required": ["labels", "annotations", "startsAt", "reason", "notification"],
        "properties": {
            "labels": labels,
            "annotations": labels,
            "startsAt": {"type": "string", "format": "date-time"},
            "endsAt": {"type": ["string", "null"]},
            "reason": {"type": "string"},
            "notification": {"type": "string"},
        },
    }


def _message(
    name: str, title: str, payload: JSON, headers: JSON, content_type: str = "application/json"
) -> JSON:
    return {
        "name": name,
        "title": title,
        "contentType": content_type,
        "headers": headers,
        "payload": payload,
    }


def _messages(schemas: JSON) -> JSON:
    schemas["WebhookAlert"] = _webhook_alert_schema()
    schemas["WebhookMessage"] = _webhook_message_schema()
    alert = _model_schema(AlertEvent, schemas)
    webhook = {"$ref": "#/components/schemas/WebhookMessage"}
    binary = _binary_mode_headers()
    return {
        "progressReportedBinary": _message(
            "progressReportedBinary",
            "A progress report, binary mode (the value is the event's data)",
            _contract_schema(EventType.PROGRESS_REPORTED, "#/properties/data"),
            binary,
        ),
        "progressRetractedBinary": _message(
            "progressRetractedBinary",
            "A retraction, binary mode (the value is the event's data)",
            _contract_schema(EventType.PROGRESS_RETRACTED, "#/properties/data"),
            binary,
        ),
        "problemBinary": _message(
            "problemBinary",
            "A problem raised, acknowledged, commented on, resolved or closed, binary mode "
            "(the value is the event's data; `ce_type` tells which)",
            {"anyOf": [_contract_schema(t, "#/properties/data") for t in _problem_types()]},
            binary,
        ),
        "progressStructured": _message(
            "progressStructured",
            "A progress report or retraction, or a problem event, structured mode (the value is "
            "the whole event)",
            {
                "oneOf": [
                    _contract_schema(EventType.PROGRESS_REPORTED),
                    _contract_schema(EventType.PROGRESS_RETRACTED),
                    *(_contract_schema(t) for t in _problem_types()),
                ]
            },
            {
                "type": "object",
                "properties": {"content-type": {"const": STRUCTURED_CONTENT_TYPE}},
                "required": ["content-type"],
            },
            STRUCTURED_CONTENT_TYPE,
        ),
        "ingestDeadLetter": _message(
            "ingestDeadLetter",
            "A rejected agency record: original headers first, then the x-dlt-* ones",
            {"type": "string", "format": "binary", "description": "The original value."},
            _string_headers(DLT_HEADERS, ALWAYS_SET),
            "application/octet-stream",
        ),
        "accepted": _message(
            "accepted",
            "An accepted report or retraction",
            _model_schema(AcceptedEvent, schemas),
            _json_content_headers(),
        ),
        "acceptedProblem": _message(
            "acceptedProblem",
            "An accepted problem event (schema planwatch.problem.v1)",
            _model_schema(AcceptedProblemEvent, schemas),
            _json_content_headers(),
        ),
        "clockTick": _message(
            "clockTick",
            "A signed platform clock tick (structured mode)",
            _contract_schema(EventType.CLOCK_TICK),
            _json_content_headers(),
            STRUCTURED_CONTENT_TYPE,
        ),
        "clockSync": _message(
            "clockSync",
            "An instant a scoring replica's clock moved to",
            _clock_sync_schema(),
            _json_content_headers(),
        ),
        "scoreUpdate": _message(
            "scoreUpdate", "A target's new result", _score_update_schema(), _json_content_headers()
        ),
        "alert": _message(
            "alert",
            "An alert transition for one responsible agency",
            alert,
            _json_content_headers("alert-id"),
        ),
        "scoringDeadLetter": _message(
            "scoringDeadLetter",
            "A record scoring could not apply: original headers first, then the x-dlt-* ones",
            {"type": "string", "format": "binary", "description": "The original value."},
            _string_headers(DLT_HEADERS, ALWAYS_SET),
            "application/octet-stream",
        ),
        "groupedAlert": _message(
            "groupedAlert", "An alert for one aggregation group", alert, _json_content_headers()
        ),
        "notification": _message(
            "notification",
            "A group's notification for a Kafka receiver",
            webhook,
            _json_content_headers("webhook-id", "receiver"),
        ),
        "operationalAlert": _message(
            "operationalAlert",
            "A record about notify's own receivers",
            _operational_alert_schema(),
            _json_content_headers("planwatch-kind"),
        ),
        "notificationDeadLetter": _message(
            "notificationDeadLetter",
            "A notification past its retry budget",
            _notification_dead_letter_schema(),
            _json_content_headers("planwatch-reason", "webhook-id"),
        ),
    }


def _channel(channel: Channel) -> JSON:
    topic_binding: JSON = {
        "topic": channel.topic,
        "partitions": topics.PARTITIONS[channel.topic],
        "bindingVersion": KAFKA_BINDING_VERSION,
    }
    config = topics.CONFIGS.get(channel.topic)
    if config:
        topic_binding["topicConfiguration"] = {
            "max.message.bytes": int(config["max.message.bytes"])
        }
    description = channel.summary + f" Key: {channel.key}"
    if config:
        settings = ", ".join(f"{k}={v}" for k, v in sorted(config.items()))
        description += f" Created with {settings}."
    return {
        "address": channel.topic,
        "title": channel.topic,
        "description": description,
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in channel.messages},
        "bindings": {"kafka": topic_binding},
        "tags": [{"name": "internal" if channel.internal else "public"}],
    }


def _operations() -> JSON:
    operations: JSON = {}
    for channel in CHANNELS:
        sides = (("send", channel.publishers), ("receive", channel.subscribers))
        for action, parties in sides:
            for party in parties:
                operations[f"{party}{action.title()}{channel.id[0].upper()}{channel.id[1:]}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{channel.id}"},
                    "summary": f"{party} {action}s on {channel.topic}",
                    "messages": [
                        {"$ref": f"#/channels/{channel.id}/messages/{name}"}
                        for name in channel.messages
                    ],
                    "tags": [{"name": party}],
                }
    return operations


def document() -> JSON:
    """The whole AsyncAPI 3 document, as plain data."""
    schemas: JSON = {}
    messages = _messages(schemas)
    for name, schema in (
        ("ScoreUpdate", _score_update_schema()),
        ("ClockSync", _clock_sync_schema()),
    ):
        schemas.setdefault(name, schema)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "planwatch",
            "version": version("planwatch"),
            "description": "Every Kafka topic of planwatch: payloads, keys, headers, and who "
            "publishes and subscribes. Generated by `planwatch asyncapi`; do not edit.",
            "tags": [{"name": name, "description": text} for name, text in PARTIES.items()],
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "kafka:9092",
                "protocol": "kafka",
                "description": "The platform's Kafka (SASL_SSL with SCRAM-SHA-512 in "
                "production, see docs/deploy.md; PLAINTEXT in development).",
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": {channel.id: _channel(channel) for channel in CHANNELS},
        "operations": _operations(),
        "components": {
            "messages": messages,
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "One principal per service and per agency; ACLs per topic.",
                }
            },
        },
    }


def render() -> str:
    text: str = yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=100)
    return "# Generated by `planwatch asyncapi`: do not edit.\n" + text


asyncapi_app = typer.Typer()


@asyncapi_app.command("asyncapi")
def write_asyncapi(
    output: Annotated[
        Path | None,
        typer.Argument(help="The old spelling of --out.", show_default=False, hidden=True),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help=f"Where to write (`-`: stdout); default: {DEFAULT_OUTPUT}."),
    ] = None,
) -> None:
    """Write the AsyncAPI 3 document of every Kafka topic."""
    if out is not None and output is not None:
        raise typer.BadParameter("give --out or the positional path, not both")
    output = out or output or DEFAULT_OUTPUT
    text = render()
    if str(output) == "-":
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")
