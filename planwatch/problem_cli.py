"""`planwatch problem raise|ack|comment|resolve|close`: problems raised and followed, as
signed events (docs/contract.md, "Problems"), sent like `planwatch publish` sends a report.

An agency raises a problem on a target, deliverable, indicator or task (`--target`): what
blocks it (`--summary`), what it needs (`--needs`), from whom (`--from`, repeatable); the plan's
coordinator acknowledges (`ack`), comments (`comment`) and resolves it (`resolve`); the agency
that raised it may close it (`close`). Each command signs one event with the sender's key and
sends it to Kafka (`--via kafka`, the progress topic) or to ingest (`--via http`), and prints
the outcome as `publish` does (`--format json`: one JSON line with the problem id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from planwatch.cli_options import (
    FormatOption,
    LangOption,
    OutputFormat,
    Voice,
)
from planwatch.publish_cli import (
    DEFAULT_URL,
    Agency,
    Bootstrap,
    KeyFile,
    KeyId,
    Mode,
    ModeOption,
    Timeout,
    Topic,
    Url,
    Via,
    ViaOption,
    send_one,
)
from planwatch.publish_file import validation_message
from shared import topics
from shared.contract.events import (
    EventType,
    ProblemEvent,
    new_problem_id,
    new_problem_raised,
    new_problem_step,
)
from shared.contract.keys import private_key_from_pem
from shared.contract.signing import sign
from shared.domain.timebase import CST
from shared.runtime.settings import KafkaSettings

problem_app = typer.Typer(
    help="Problems raised on a target or task, and followed by the plan's coordinator.",
    no_args_is_help=True,
)

# The options of the problem commands, besides those of every command that signs and sends
# (`planwatch.publish_cli`).
Subject = Annotated[
    str,
    typer.Option("--target", help="The target, deliverable, indicator or task the problem is on."),
]
ProblemId = Annotated[str, typer.Option("--problem", help="The problem's id.")]
Plan = Annotated[str | None, typer.Option("--plan", help="Default: the only plan.")]
EventId = Annotated[str | None, typer.Option("--event-id", help="Default: one made from the time.")]
Time = Annotated[
    str | None,
    typer.Option("--time", metavar="<RFC3339>", help="RFC 3339 event time; default: now (CST)."),
]
StepNote = Annotated[
    str | None,
    typer.Option("--note", help="A note, at most 1000 characters (comment: the comment itself)."),
]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who sends, with which key, and where to."""

    agency: str
    key_id: str
    key_file: Path
    plan: str | None
    via: Via
    mode: Mode
    bootstrap: str | None
    topic: str
    url: str
    timeout_s: float
    output: OutputFormat
    voice: Voice


def _when(time: str | None, voice: Voice) -> datetime:
    try:
        return datetime.fromisoformat(time) if time else datetime.now(CST).replace(microsecond=0)
    except ValueError as exc:
        raise voice.refuse("publish.bad_time", time=time, error=exc) from None


def _plan_id(sender: Sender) -> str:
    voice = sender.voice
    return sender.plan or voice.plan(voice.catalog(), None).id


def _sign_and_send(sender: Sender, event: ProblemEvent) -> None:
    voice = sender.voice
    try:
        private_key = private_key_from_pem(sender.key_file.read_bytes())
    except (ValueError, TypeError) as exc:
        raise voice.refuse("publish.key_file", path=sender.key_file, error=exc) from None
    try:
        kafka = (
            KafkaSettings()
            if sender.bootstrap is None
            else KafkaSettings(bootstrap_servers=sender.bootstrap)
        )
    except ValidationError as exc:
        raise voice.refuse("publish.kafka_settings", error=validation_message(exc)) from None
    try:
        signed = sign(event, private_key, sender.key_id)
    except ValueError as exc:
        raise voice.refuse("publish.invalid_event", error=exc) from None
    voice.note("problem.sending", problem=event.data.problem_id, type=event.envelope.type.value)
    send_one(
        signed,
        via=sender.via,
        kafka=kafka,
        topic=sender.topic,
        mode=sender.mode,
        timeout_s=sender.timeout_s,
        url=sender.url,
        output=sender.output,
        voice=voice,
        extra={"problem_id": event.data.problem_id, "type": event.envelope.type.value},
    )


def _step(
    sender: Sender,
    event_type: EventType,
    *,
    subject: str,
    problem_id: str,
    note: str | None,
    time: str | None,
    event_id: str | None,
) -> None:
    voice = sender.voice
    try:
        event = new_problem_step(
            event_type,
            agency=sender.agency,
            plan=_plan_id(sender),
            subject=subject,
            problem_id=problem_id,
            time=_when(time, voice),
            note=note,
            event_id=event_id,
        )
    except ValidationError as exc:
        raise voice.refuse("publish.invalid_event", error=validation_message(exc)) from None
    _sign_and_send(sender, event)


@problem_app.command("raise")
def raise_problem(
    *,
    agency: Agency,
    key_id: KeyId,
    key_file: KeyFile,
    target: Subject,
    summary: Annotated[str, typer.Option("--summary", help="What blocks it (at most 200).")],
    needs: Annotated[str, typer.Option("--needs", help="What it needs (at most 1000).")],
    from_agencies: Annotated[
        list[str],
        typer.Option("--from", help="An agency (or group) it needs it from; repeatable."),
    ],
    problem: Annotated[
        str | None, typer.Option("--problem", help="The problem's id; default: a new one.")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note (at most 1000).")] = None,
    evidence: Annotated[str | None, typer.Option("--evidence", help="An http(s) URL.")] = None,
    plan: Plan = None,
    event_id: EventId = None,
    time: Time = None,
    via: ViaOption = Via.KAFKA,
    mode: ModeOption = Mode.BINARY,
    bootstrap: Bootstrap = None,
    topic: Topic = topics.PROGRESS,
    url: Url = DEFAULT_URL,
    timeout_s: Timeout = 30.0,
    output: FormatOption = OutputFormat.TEXT,
    lang: LangOption = None,
) -> None:
    """Raise a problem on a target, deliverable, indicator or task you are responsible for."""
    voice = Voice.of(lang)
    sender = Sender(
        agency, key_id, key_file, plan, via, mode, bootstrap, topic, url, timeout_s, output, voice
    )
    when = _when(time, voice)
    try:
        event = new_problem_raised(
            agency=agency,
            plan=_plan_id(sender),
            subject=target,
            problem_id=problem or new_problem_id(when),
            summary=summary,
            needs=needs,
            from_agencies=from_agencies,
            time=when,
            note=note,
            evidence=evidence,
            event_id=event_id,
        )
    except ValidationError as exc:
        raise voice.refuse("publish.invalid_event", error=validation_message(exc)) from None
    _sign_and_send(sender, event)


def _register_step(name: str, event_type: EventType, doc: str) -> None:
    """One follow-up command (`ack`, `comment`, `resolve`, `close`): the same options."""

    def command(
        *,
        agency: Agency,
        key_id: KeyId,
        key_file: KeyFile,
        target: Subject,
        problem: ProblemId,
        note: StepNote = None,
        plan: Plan = None,
        event_id: EventId = None,
        time: Time = None,
        via: ViaOption = Via.KAFKA,
        mode: ModeOption = Mode.BINARY,
        bootstrap: Bootstrap = None,
        topic: Topic = topics.PROGRESS,
        url: Url = DEFAULT_URL,
        timeout_s: Timeout = 30.0,
        output: FormatOption = OutputFormat.TEXT,
        lang: LangOption = None,
    ) -> None:
        voice = Voice.of(lang)
        sender = Sender(
            agency,
            key_id,
            key_file,
            plan,
            via,
            mode,
            bootstrap,
            topic,
            url,
            timeout_s,
            output,
            voice,
        )
        _step(
            sender,
            event_type,
            subject=target,
            problem_id=problem,
            note=note,
            time=time,
            event_id=event_id,
        )

    command.__doc__ = doc
    problem_app.command(name)(command)


_register_step(
    "ack",
    EventType.PROBLEM_ACKNOWLEDGED,
    "Acknowledge a raised problem (the plan's coordinator).",
)
_register_step(
    "comment",
    EventType.PROBLEM_COMMENTED,
    "Comment on a raised problem (the plan's coordinator).",
)
_register_step(
    "resolve",
    EventType.PROBLEM_RESOLVED,
    "Resolve a raised problem (the plan's coordinator).",
)
_register_step(
    "close",
    EventType.PROBLEM_CLOSED,
    "Close a problem your agency raised.",
)
