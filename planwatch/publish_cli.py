"""`planwatch publish`: a small agency-side client that signs and sends one event, or a sheet.

Builds a report (`--value` or `--stage`) or a retraction (`--retract REASON`), signs it with
the agency's private key file (PKCS#8 PEM, from `planwatch keys generate`) and sends it to
Kafka (`--via kafka`, CloudEvents binary mode, keyed by target) or to ingest's
`POST /v1/events` (`--via http`). Prints the outcome: a sentence in the chosen language
(`--lang`, planwatch.messages) or, with `--format json`, one JSON line.

With `--file FILE` (a .csv or .xlsx sheet, one report per row) it checks every row first, then
signs and sends them all and prints a receipt: planwatch.publish_file_cli.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from planwatch.cli_options import (
    FormatOption,
    JsonAlias,
    LangOption,
    OutputFormat,
    Voice,
    chosen_format,
)
from planwatch.http_token import auth_headers
from planwatch.messages import reason_meaning
from planwatch.publish_file import validation_message
from planwatch.publish_file_cli import FileOptions, publish_file
from shared import topics
from shared.contract.codec import (
    encode_http_binary,
    encode_http_structured,
    encode_kafka_binary,
    encode_kafka_structured,
)
from shared.contract.events import (
    ProblemEvent,
    ProgressEvent,
    Unit,
    new_report,
    new_retraction,
)
from shared.contract.keys import private_key_from_pem
from shared.contract.signing import sign
from shared.domain.timebase import CST
from shared.runtime.kafka import TransientError
from shared.runtime.kafka_security import (
    ACCESS_ERRORS,
    check_access,
    describe_access_error,
)
from shared.runtime.publisher import KafkaPublisher, Outbound, make_producer
from shared.runtime.settings import KafkaSettings

publish_app = typer.Typer()

DEFAULT_URL = "http://127.0.0.1:8001"
EVENTS_PATH = "/v1/events"


class Via(StrEnum):
    KAFKA = "kafka"
    HTTP = "http"


class Mode(StrEnum):
    BINARY = "binary"
    STRUCTURED = "structured"


# The options of every command that signs and sends events (here and `planwatch problem`).
Agency = Annotated[str, typer.Option("--agency", help="Your agency id (the event's source).")]
KeyId = Annotated[str, typer.Option("--key-id", help="The id of your registered key.")]
KeyFile = Annotated[
    Path, typer.Option("--key-file", help="Your private key (PKCS#8 PEM).", exists=True)
]
ViaOption = Annotated[
    Via, typer.Option("--via", help="kafka: the progress topic; http: ingest's door.")
]
ModeOption = Annotated[Mode, typer.Option("--mode", help="CloudEvents mode.")]
Bootstrap = Annotated[
    str | None, typer.Option("--bootstrap", help="Default: $KAFKA_BOOTSTRAP_SERVERS.")
]
Topic = Annotated[str, typer.Option("--topic", help="The Kafka topic.")]
Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="PLANWATCH_INGEST_URL",
        metavar="<url>",
        help="Ingest's base URL, for --via http (/v1/events is added).",
    ),
]
Timeout = Annotated[float, typer.Option("--timeout", help="Seconds.")]


def events_url(url: str) -> str:
    """Ingest's events endpoint from its base URL (an URL that names the endpoint is kept)."""
    base = url.rstrip("/")
    return base if base.endswith(EVENTS_PATH) else base + EVENTS_PATH


def build_event(
    *,
    agency: str,
    plan: str,
    target: str,
    as_of: date,
    time: datetime,
    value: float | None,
    stage: str | None,
    retract: str | None,
    unit: Unit | None,
    note: str | None,
    evidence: str | None,
    event_id: str | None,
) -> ProgressEvent:
    """The unsigned event the options describe; ValueError/ValidationError if they do not fit."""
    if retract is not None:
        if value is not None or stage is not None:
            raise ValueError("--retract takes neither --value nor --stage")
        return new_retraction(
            agency=agency,
            plan=plan,
            target=target,
            as_of=as_of,
            reason=retract,
            time=time,
            event_id=event_id,
        )
    return new_report(
        agency=agency,
        plan=plan,
        target=target,
        as_of=as_of,
        time=time,
        value=value,
        stage=stage,
        unit=unit,
        note=note,
        evidence=evidence,
        event_id=event_id,
    )


async def send_kafka(
    event: ProgressEvent | ProblemEvent,
    kafka: KafkaSettings,
    topic: str,
    mode: Mode,
    timeout_s: float,
) -> dict[str, Any]:
    """Sends with the agency's own credentials (KAFKA_* settings); KafkaAccessError when Kafka
    refuses them or the agency may not write the topic."""
    encode = encode_kafka_binary if mode is Mode.BINARY else encode_kafka_structured
    key, value, headers = encode(event)
    await check_access(kafka, timeout_s=timeout_s)
    async with KafkaPublisher(lambda: make_producer(kafka, "publish"), timeout_s) as publisher:
        [outcome] = await publisher.deliver_each([Outbound(topic, value, key, tuple(headers))])
    if isinstance(outcome, Exception):
        raise outcome
    return {"topic": topic, "partition": outcome.partition, "offset": outcome.offset}


async def send_http(
    event: ProgressEvent | ProblemEvent, url: str, mode: Mode, timeout_s: float
) -> tuple[int, dict[str, Any]]:
    encode = encode_http_binary if mode is Mode.BINARY else encode_http_structured
    headers, body = encode(event)
    # The agency's token (PLANWATCH_TOKEN_FILE or PLANWATCH_TOKEN): scope events:write.
    async with httpx.AsyncClient(timeout=timeout_s, headers=auth_headers()) as client:
        response = await client.post(url, headers=headers, content=body)
    try:
        answer: dict[str, Any] = response.json()
    except json.JSONDecodeError:
        answer = {"body": response.text}
    return response.status_code, answer


@publish_app.command("publish")
def publish(
    *,
    agency: Agency,
    key_id: KeyId,
    key_file: KeyFile,
    target: Annotated[str | None, typer.Option("--target", help="The target id.")] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            metavar="<YYYY-MM-DD>",
            help="The day the value describes.",
        ),
    ] = None,
    value: Annotated[float | None, typer.Option("--value", help="Share/count/rank value.")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Milestone stage id.")] = None,
    retract: Annotated[
        str | None, typer.Option("--retract", help="Retract the report for as_of; the reason.")
    ] = None,
    unit: Annotated[Unit | None, typer.Option("--unit", help="Optional unit check.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note to the report.")] = None,
    evidence: Annotated[str | None, typer.Option("--evidence", help="An http(s) URL.")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="Default: the only plan.")] = None,
    event_id: Annotated[str | None, typer.Option("--event-id", help="Default: a UUID.")] = None,
    time: Annotated[
        str | None,
        typer.Option(
            "--time", metavar="<RFC3339>", help="RFC 3339 report time; default: now (CST)."
        ),
    ] = None,
    via: ViaOption = Via.KAFKA,
    mode: ModeOption = Mode.BINARY,
    bootstrap: Bootstrap = None,
    topic: Topic = topics.PROGRESS,
    url: Url = DEFAULT_URL,
    timeout_s: Timeout = 30.0,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="A .csv or .xlsx sheet, one report per row (see `planwatch template`): "
            "every row checked, then all sent; prints a receipt.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="--file: send the good rows, list the bad ones.")
    ] = False,
    output: FormatOption = OutputFormat.TEXT,
    as_json: JsonAlias = False,
    lang: LangOption = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="--file: where the sent rows' report times are kept; "
            "default: $XDG_STATE_HOME/planwatch/sent-AGENCY.jsonl.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Sign and send one progress report or retraction, or every row of a sheet (--file)."""
    voice = Voice.of(lang)
    output = chosen_format(output, as_json)
    try:
        private_key = private_key_from_pem(key_file.read_bytes())
    except (ValueError, TypeError) as exc:
        raise voice.refuse("publish.key_file", path=key_file, error=exc) from None
    try:
        kafka = KafkaSettings() if bootstrap is None else KafkaSettings(bootstrap_servers=bootstrap)
    except ValidationError as exc:
        raise voice.refuse("publish.kafka_settings", error=validation_message(exc)) from None
    if file is not None:
        single = {
            "--target": target,
            "--as-of": as_of,
            "--value": value,
            "--stage": stage,
            "--retract": retract,
            "--unit": unit,
            "--note": note,
            "--evidence": evidence,
            "--event-id": event_id,
        }
        given = [name for name, option in single.items() if option is not None]
        if given:
            raise voice.refuse("publish.file_exclusive", options=", ".join(given))
        publish_file(
            FileOptions(
                path=file,
                agency=agency,
                key_id=key_id,
                private_key=private_key,
                plan=plan,
                time=time,
                via_http=via is Via.HTTP,
                structured=mode is Mode.STRUCTURED,
                kafka=kafka,
                topic=topic,
                url=events_url(url),
                timeout_s=timeout_s,
                skip_bad=skip_bad,
                output=output,
                ledger=ledger,
                voice=voice,
            )
        )
        return
    if target is None or as_of is None:
        raise voice.refuse("publish.needs_target")
    if retract is not None and (value is not None or stage is not None):
        raise voice.refuse("publish.retract_exclusive")
    try:
        reported = (
            datetime.fromisoformat(time) if time else datetime.now(CST).replace(microsecond=0)
        )
    except ValueError as exc:
        raise voice.refuse("publish.bad_time", time=time, error=exc) from None
    try:
        event = build_event(
            agency=agency,
            plan=plan or voice.plan(voice.catalog(), None).id,
            target=target,
            as_of=as_of.date(),
            time=reported,
            value=value,
            stage=stage,
            retract=retract,
            unit=unit,
            note=note,
            evidence=evidence,
            event_id=event_id,
        )
        signed = sign(event, private_key, key_id)
    except ValidationError as exc:
        raise voice.refuse("publish.invalid_event", error=validation_message(exc)) from None
    except ValueError as exc:
        raise voice.refuse("publish.invalid_event", error=exc) from None
    send_one(
        signed,
        via=via,
        kafka=kafka,
        topic=topic,
        mode=mode,
        timeout_s=timeout_s,
        url=url,
        output=output,
        voice=voice,
    )


def send_one(
    signed: ProgressEvent | ProblemEvent,
    *,
    via: Via,
    kafka: KafkaSettings,
    topic: str,
    mode: Mode,
    timeout_s: float,
    url: str,
    output: OutputFormat,
    voice: Voice,
    extra: dict[str, Any] | None = None,
) -> None:
    """Send one signed event and print what became of it (`extra`: more members of the JSON
    line, e.g. a problem's id)."""
    outcome: dict[str, Any] = {"id": signed.envelope.id, "via": via.value, **(extra or {})}
    if via is Via.KAFKA:
        try:
            outcome.update(asyncio.run(send_kafka(signed, kafka, topic, mode, timeout_s)))
        except ACCESS_ERRORS as exc:
            detail = describe_access_error(exc, kafka, topic)
            raise voice.fail("publish.kafka_access", detail=detail) from None
        except (TimeoutError, OSError, KafkaError, TransientError) as exc:
            servers = kafka.bootstrap_servers
            raise voice.fail("publish.kafka_failed", servers=servers, error=repr(exc)) from None
        _print_outcome(outcome, output, voice)
        return
    endpoint = events_url(url)
    try:
        code, answer = asyncio.run(send_http(signed, endpoint, mode, timeout_s))
    except httpx.HTTPError as exc:
        raise voice.fail("publish.http_failed", url=endpoint, error=repr(exc)) from None
    outcome.update({"status_code": code, **answer})
    _print_outcome(outcome, output, voice)
    if code != 202:
        raise typer.Exit(1)


def _print_outcome(outcome: dict[str, Any], output: OutputFormat, voice: Voice) -> None:
    """The JSON line (the same in any language), or one sentence on what became of the event."""
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(outcome, ensure_ascii=False))
        return
    event_id = outcome["id"]
    if outcome["via"] == Via.KAFKA.value:
        fields = {k: outcome[k] for k in ("topic", "partition", "offset")}
        typer.echo(voice.say("publish.sent", id=event_id, **fields))
        return
    results = outcome.get("results")
    result = results[0] if isinstance(results, list) and len(results) == 1 else None
    status = result.get("status") if isinstance(result, dict) else None
    if result is None or status not in ("accepted", "duplicate", "rejected"):
        detail = outcome.get("detail") or outcome.get("title") or outcome.get("body") or ""
        typer.echo(voice.say("publish.refused", code=outcome["status_code"], detail=detail))
    elif status == "rejected":
        reason = str(result.get("reason", ""))
        typer.echo(
            voice.say(
                "publish.rejected",
                id=event_id,
                reason=reason,
                meaning=reason_meaning(reason, voice.lang),
                message=result.get("message", ""),
            )
        )
    else:
        typer.echo(voice.say(f"publish.{status}", id=event_id))
