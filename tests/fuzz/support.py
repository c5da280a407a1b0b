"""Shared parts of the ingest fuzz suites: the contract's grammar as hypothesis strategies,
mutations of valid signed events, the wire forms of the five doors, and the properties every
judgement must have (no exception, a named reason, nothing unsigned accepted, bounded memory).

Every event the suite signs is recorded in `SIGNED` (content hash -> event); an accepted
event must be one of them, so a mutation can only be accepted if it left the signed content
as it was.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, TypeVar
from urllib.parse import quote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from services.ingest.validation import Accepted, Rejected, Verdict, content_hash, validate
from shared.contract import jcs
from shared.contract.codec import (
    BATCH_CONTENT_TYPE,
    STRUCTURED_CONTENT_TYPE,
    encode_http_binary,
    encode_http_structured,
    encode_kafka_binary,
    encode_kafka_structured,
)
from shared.contract.events import (
    AGENCY_SOURCE_PREFIX,
    CLOCK_SOURCE,
    MAX_NOTE_CHARS,
    EventType,
    ProgressReported,
    ProgressRetracted,
)
from shared.contract.keys import b64url_encode
from shared.contract.parsing import DEFAULT_MAX_BYTES, RawEvent, envelope_from_attributes
from shared.contract.reasons import ContractError, Reason
from shared.contract.signing import canonical_bytes
from tests.unit.ingest_support import (
    AGENCIES,
    NOW,
    PLAN,
    catalog,
    key_snapshot,
    private_key,
    raw_of,
    report,
    retraction,
)

T = TypeVar("T")
Event = ProgressReported | ProgressRetracted
KafkaInput = tuple[bytes | None, list[tuple[str, bytes]]]
HttpInput = tuple[dict[str, str], bytes]

KEYS: Final = key_snapshot()
MAX_EVENT_BYTES: Final = DEFAULT_MAX_BYTES
MAX_BATCH_BYTES: Final = 1024 * 1024
#: Peak traced memory of one judgement may not exceed this factor times the input's size...
MEMORY_FACTOR: Final = 64
#: ...plus this (caches warmed on first use, the interpreter's own small allocations).
MEMORY_SLACK: Final = 2 * 1024 * 1024


def fuzz_settings(max_examples: int) -> settings:
    """Reproducible in CI: derandomized (a fixed seed per test), no example database, no
    deadline (a slow machine must not turn into a failure), no health check on slow data."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


# --- the events the suite signs -------------------------------------------------------------

#: content hash -> the signed event: the only content any accepted verdict may carry.
SIGNED: dict[str, RawEvent] = {}


def register(raw: RawEvent) -> str:
    digest = content_hash(raw)
    SIGNED[digest] = raw
    return digest


def _valid_templates() -> list[Callable[[str, str | None], Event]]:
    """Event makers (id, note -> signed event) that ingest accepts: checked once, here."""
    candidates: list[Callable[[str, str | None], Event]] = [
        lambda i, n: report(event_id=i, note=n),
        lambda i, n: report(event_id=i, note=n, value=0.0),
        lambda i, n: report(event_id=i, note=n, agency="qy.health"),
        lambda i, n: report(event_id=i, note=n, agency="qy.miit", target="infra.5g-coverage"),
        lambda i, n: report(
            event_id=i,
            note=n,
            agency="qy.miit",
            target="talent.digital-talent.shortage-list",
            stage="done",
        ),
        lambda i, n: report(
            event_id=i, note=n, as_of=date(2022, 6, 30), time="2022-04-06T12:04:59Z"
        ),
        lambda i, _n: retraction(event_id=i),
    ]
    kept = []
    for make in candidates:
        verdict = validate(raw_of(make("probe", None)), catalog(), KEYS, NOW)
        if isinstance(verdict, Accepted):
            kept.append(make)
    assert len(kept) >= 4, "the fuzz suite needs a few kinds of valid events"
    return kept


TEMPLATES: Final = _valid_templates()

# --- the contract's grammar ---------------------------------------------------------------

_ID_FIRST: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ID_REST: Final = _ID_FIRST + "._-"

#: Texts that break parsers: controls, bidi, BOM, NUL, combining marks, astral, surrogates.
UNICODE_EDGES: Final = (
    "",
    "\x00",
    "\x7f",
    "\n",
    "\r\n",
    "\t",
    "\ufeff",
    "\u202e",
    "\u200b",
    "e\u0301",
    "\U0001f600",
    "\U0010ffff",
    "\ud800",
    "\udfff",
    "掌上办",
    "\u2028",
    "ℵ",
    "²",
    "\uffff",
)

valid_ids: st.SearchStrategy[str] = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_ID_FIRST),
    st.text(alphabet=_ID_REST, max_size=20),
) | st.sampled_from(["a" * 128, "Z" * 127 + "-", "1", "x.y_z-0"])

edge_texts: st.SearchStrategy[str] = st.sampled_from(UNICODE_EDGES) | st.builds(
    lambda a, b: a + b, st.sampled_from(UNICODE_EDGES), st.text(max_size=6)
)

any_texts: st.SearchStrategy[str] = st.text(max_size=24) | edge_texts | valid_ids

ids: st.SearchStrategy[str] = valid_ids | any_texts | st.sampled_from(["a" * 129, " a", "a b"])

agency_ids: st.SearchStrategy[str] = st.sampled_from(AGENCIES) | valid_ids

sources: st.SearchStrategy[str] = (
    st.builds(lambda a: AGENCY_SOURCE_PREFIX + a, agency_ids)
    | st.just(CLOCK_SOURCE)
    | st.builds(lambda a: AGENCY_SOURCE_PREFIX.upper() + a, agency_ids)
    | st.builds(lambda a: "urn:planwatch:agency:" + a, any_texts)
    | any_texts
)

types: st.SearchStrategy[str] = (
    st.sampled_from([t.value for t in EventType])
    | st.sampled_from(
        [
            "org.planwatch.progress.reported.v2",
            "ORG.PLANWATCH.PROGRESS.REPORTED.V1",
            "org.planwatch.progress.reported.v1 ",
            "",
        ]
    )
    | any_texts
)


@st.composite
def rfc3339_times(draw: st.DrawFn) -> str:
    """RFC 3339 times, valid and nearly valid: odd offsets, fractions, leap seconds, case."""
    year = draw(st.sampled_from([0, 1, 1970, 2021, 2022, 2023, 9999]) | st.integers(0, 9999))
    month = draw(st.integers(0, 13))
    day = draw(st.integers(0, 32))
    hour = draw(st.integers(0, 25))
    minute = draw(st.integers(0, 61))
    second = draw(st.integers(0, 61))
    fraction = draw(st.sampled_from(["", ".5", ".123456789", ".1234567890", "."]))
    offset = draw(
        st.sampled_from(["Z", "z", "+08:00", "-00:00", "+23:59", "-24:00", "+0800", "", "+8:00"])
    )
    sep = draw(st.sampled_from(["T", "t", " "]))
    clock = f"{hour:02d}:{minute:02d}:{second:02d}{fraction}{offset}"
    return f"{year:04d}-{month:02d}-{day:02d}{sep}{clock}"


times: st.SearchStrategy[str] = (
    st.sampled_from(
        [
            "2022-04-06T09:30:00+08:00",
            "2022-04-06T12:05:00Z",  # within the clock skew
            "2022-04-06T12:05:01Z",  # just beyond it
            "2021-12-31T23:59:59.999999999-00:00",
        ]
    )
    | rfc3339_times()
    | any_texts
)

dates: st.SearchStrategy[str] = (
    st.dates(min_value=date(2019, 1, 1), max_value=date(2026, 12, 31)).map(date.isoformat)
    | st.sampled_from(["2022-02-30", "2022-3-31", "20220331", "2022-03-31T00:00:00Z", ""])
    | any_texts
)

#: Numbers and their hostile spellings, written into the JSON text as they are.
NUMBER_SPELLINGS: Final = (
    "NaN",
    "-NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "-1e999",
    "1E400",
    "0.0",
    "-0",
    "1e-400",
    "99999999999999999999999999999999",
    "1" * 400,
    "72.50000000000000000000000001",
    "0x10",
    "+1",
    ".5",
    "5.",
    "1_000",
)


class RawJson(str):
    """JSON text written into a document verbatim (a number spelled as the sender did)."""

    __slots__ = ()


json_leaves: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_texts
    | st.sampled_from(NUMBER_SPELLINGS).map(RawJson)
)

json_values: st.SearchStrategy[Any] = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_texts, children, max_size=3)
    ),
    max_leaves=6,
)


def write_json(value: Any) -> str:
    """JSON text of `value` with RawJson spliced in as is and lone surrogates kept as
    escapes (which a strict reader must refuse)."""
    if isinstance(value, RawJson):
        return str(value)
    if isinstance(value, dict):
        members = (f"{write_json(str(k))}:{write_json(v)}" for k, v in value.items())
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(write_json(v) for v in value) + "]"
    if isinstance(value, float) and value != value:
        return "NaN"
    return (
        json.dumps(value, ensure_ascii=False, allow_nan=True)
        .encode("utf-8", "backslashreplace")
        .decode("utf-8")
    )


def to_bytes(text: str) -> bytes:
    """UTF-8, lone surrogates written as the (invalid) bytes a careless encoder produces."""
    return text.encode("utf-8", "surrogatepass")


@st.composite
def report_data(draw: st.DrawFn) -> dict[str, Any]:
    """A `data` object after the contract's grammar: each member valid or not, some
    missing, some extra, nulls and wrong types among them."""
    targets = [
        "gov.mobile-services",
        "infra.5g-coverage",
        "talent.digital-talent.shortage-list",
        "no.such-target",
    ]
    members: dict[str, st.SearchStrategy[Any]] = {
        "plan": st.just(PLAN) | ids,
        "target": st.sampled_from(targets) | ids,
        "as_of": dates,
        "value": st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from([72.5, 0, 100, -1, 101, 2**53])
        | json_leaves,
        "stage": st.sampled_from(["done", "planned", "under-construction"]) | ids,
        "unit": st.sampled_from(["percent", "count", "rank", "stage", "amount", "%"]) | json_leaves,
        "note": st.text(max_size=40)
        | edge_texts
        | st.sampled_from(["x" * MAX_NOTE_CHARS, "x" * (MAX_NOTE_CHARS + 1), "掌" * 1000]),
        "evidence": st.sampled_from(
            ["https://example.org/a", "ftp://x", "https://", "http://a b", "https://" + "a" * 2048]
        )
        | any_texts,
        "scope": ids,
        "reason": any_texts,
        "extra": json_values,
    }
    chosen = draw(
        st.lists(st.sampled_from(sorted(members)), unique=True, max_size=len(members))
        | st.just(["plan", "target", "as_of", "value"])
        | st.just(["plan", "target", "as_of", "stage"])
    )
    data: dict[str, Any] = {}
    for name in chosen:
        data[name] = draw(members[name])
        if draw(st.integers(0, 9)) == 0:
            data[name] = draw(json_values)
    return data


@dataclass
class WireEvent:
    """An event as attributes (by CloudEvents name) and its data JSON text."""

    attributes: dict[str, str]
    data: bytes
    original: str | None = None  # the content hash of the signed event it came from
    valid: bool = False  # exactly as signed: must be accepted
    extras: list[tuple[str, str]] = field(default_factory=list)  # raw extra headers/members


def wire_of(event: Event | RawEvent, *, valid: bool = True) -> WireEvent:
    raw = event if isinstance(event, RawEvent) else raw_of(event)
    digest = register(raw)
    return WireEvent(dict(raw.envelope.attributes()), raw.data, digest, valid)


@st.composite
def grammar_events(draw: st.DrawFn) -> WireEvent:
    """Envelope and data from the grammar; signed with the agency's real key when the
    envelope and data allow it (so the catalog, time and value checks are reached)."""
    attributes: dict[str, str] = {
        "specversion": draw(st.sampled_from(["1.0"]) | st.sampled_from(["0.3", "1", "1.0 "])),
        "id": draw(ids),
        "source": draw(sources),
        "type": draw(types),
        "time": draw(times),
        "datacontenttype": draw(
            st.sampled_from(["application/json"])
            | st.sampled_from(["application/json; charset=utf-8", "text/plain", "APPLICATION/JSON"])
        ),
        "subject": draw(st.sampled_from(["gov.mobile-services", "infra.5g-coverage"]) | ids),
        "sigkeyid": draw(st.sampled_from(["k1", "k2"]) | ids),
    }
    for name in draw(
        st.lists(st.sampled_from(sorted(attributes)), unique=True, max_size=3)
    ):  # drop some
        del attributes[name]
    for _ in range(draw(st.integers(0, 2))):  # extensions, some reserved or misnamed
        name = draw(
            st.sampled_from(["traceparent", "x", "dataschema", "data_base64", "Ext", "a" * 21])
            | st.text(max_size=8)
        )
        attributes[name] = draw(any_texts)
    data = draw(report_data())
    text = write_json(data)
    if draw(st.booleans()) and data:  # a duplicate key, spelled twice in the text
        key = next(iter(data))
        text = text[:-1] + ("," if len(data) else "") + f"{write_json(key)}:1" + "}"
    body = to_bytes(text)
    signature: str = draw(
        st.sampled_from(["", "AAAA", "=="]) | st.binary(min_size=64, max_size=64).map(b64url_encode)
    )
    wire = WireEvent(attributes, body)
    if draw(st.integers(0, 2)) > 0:
        signed = _sign(attributes, body)
        if signed is not None:
            wire.attributes["signature"] = signed
            return wire
    wire.attributes["signature"] = signature
    return wire


def _sign(attributes: dict[str, str], body: bytes) -> str | None:
    """The real signature of an envelope and data the grammar produced, if it has one."""
    source, key_id = attributes.get("source", ""), attributes.get("sigkeyid", "")
    agency = source.removeprefix(AGENCY_SOURCE_PREFIX)
    if (agency, key_id) not in KEYS:
        return None
    try:
        envelope = envelope_from_attributes(attributes)
        signed = canonical_bytes(envelope, body)
    except ContractError:
        return None
    signature = b64url_encode(private_key(agency, key_id).sign(signed))
    register(RawEvent(envelope.model_copy(update={"signature": signature}), body))
    return signature


def _pool() -> list[WireEvent]:
    """Valid signed events of every template, with ids and notes of the grammar's edges
    (signed once, here: signing in every example would cost more than judging)."""
    notes: list[str | None] = [
        None,
        "掌上办 Q1",
        "x" * MAX_NOTE_CHARS,
        "掌" * MAX_NOTE_CHARS,
        "\U0001f600" * 10,
        "\u202e\u200b",
        "e\u0301 \u2028 ℵ ²",
        "",
        '"\\/\b\f\n\r\t',
    ]
    event_ids = ["1", "a" * 128, "x.y_z-0", "Z" * 127 + "-", "ev-9", "0", "a-b.c_d"]
    pool = []
    for number, make in enumerate(TEMPLATES):
        for index, note in enumerate(notes):
            event_id = event_ids[(number + index) % len(event_ids)] + f"-{number}{index}"
            pool.append(wire_of(make(event_id[-128:], note)))
    return pool


POOL: Final = _pool()

valid_events: st.SearchStrategy[WireEvent] = st.sampled_from(POOL)


# --- mutations --------------------------------------------------------------------------------

_DEEP_LEVELS: Final = (33, 100, 1000, 5000, 100_000)


def nest(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


@st.composite
def member_mutation(draw: st.DrawFn, wire: WireEvent) -> WireEvent:
    """A change to one member of the data or the envelope, written as JSON text."""
    try:
        data = jcs.loads(wire.data)
    except ContractError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    kind = draw(
        st.sampled_from(
            ["set", "drop", "deep", "huge", "spelling", "duplicate", "attribute", "edge", "near"]
        )
    )
    attributes = dict(wire.attributes)
    member = draw(st.sampled_from([*sorted(data), "extra"]))
    text: str | None = None
    if kind == "set":
        data[member] = draw(json_values)
    elif kind == "drop":
        data.pop(member, None)
    elif kind == "deep":
        data[member] = RawJson(nest(draw(st.sampled_from(_DEEP_LEVELS))))
    elif kind == "huge":  # strings near and over the size limits
        size = draw(st.sampled_from([MAX_EVENT_BYTES - 600, MAX_EVENT_BYTES, MAX_EVENT_BYTES * 2]))
        data[member] = draw(st.sampled_from(["x", "掌", "\U0001f600"])) * (
            size // 4 + draw(st.integers(-8, 8))
        )
    elif kind == "spelling":
        data[member] = RawJson(draw(st.sampled_from(NUMBER_SPELLINGS)))
    elif kind == "duplicate":
        text = write_json(data)
        text = (
            text[:-1]
            + ("," if data else "")
            + f"{write_json(member)}:{write_json(data.get(member))}}}"
        )
    elif kind == "attribute":
        name = draw(st.sampled_from([*sorted(attributes), "traceparent", "sigkeyid", "x"]))
        if draw(st.booleans()):
            attributes.pop(name, None)
        else:
            attributes[name] = draw(any_texts | st.just(attributes.get(name, "") + "x"))
    elif kind == "edge":
        data[member] = draw(edge_texts)
    else:  # a note of exactly the limit, or just over it, in multi-byte characters
        data["note"] = draw(st.sampled_from(["掌", "x", "\U0001f600"])) * draw(
            st.sampled_from([MAX_NOTE_CHARS - 1, MAX_NOTE_CHARS, MAX_NOTE_CHARS + 1])
        )
    body = to_bytes(text if text is not None else write_json(data))
    return WireEvent(attributes, body, wire.original)


def flip_bytes(draw: st.DrawFn, value: bytes) -> bytes:
    """Byte flips, truncation, insertion or deletion of a span, or repetition."""
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "repeat", "bom"]))
    buffer = bytearray(value)
    if kind == "flip" and buffer:
        for _ in range(draw(st.integers(1, 4))):
            position = draw(st.integers(0, len(buffer) - 1))
            buffer[position] = draw(st.integers(0, 255))
    elif kind == "truncate":
        del buffer[draw(st.integers(0, len(buffer))) :]
    elif kind == "insert":
        position = draw(st.integers(0, len(buffer)))
        inserted = draw(
            st.binary(max_size=8)
            | st.sampled_from([b"\xc0\x80", b"\xed\xa0\x80", b"\xff", b"\x00", b'"', b"{", b"\\"])
        )
        buffer[position:position] = inserted
    elif kind == "delete" and buffer:
        start = draw(st.integers(0, len(buffer) - 1))
        del buffer[start : start + draw(st.integers(1, 16))]
    elif kind == "repeat":
        buffer = buffer * draw(st.integers(2, 3))
    elif kind == "bom":
        buffer[0:0] = b"\xef\xbb\xbf"
    return bytes(buffer)


# --- the doors' wire forms ------------------------------------------------------------------


def structured_text(wire: WireEvent) -> bytes:
    """Structured mode: the attributes as members, the data text spliced in as it is."""
    head = ",".join(
        f"{write_json(k)}:{write_json(v)}" for k, v in [*wire.attributes.items(), *wire.extras]
    )
    return to_bytes("{" + head + ("," if head else "") + '"data":') + wire.data + b"}"


def kafka_binary(wire: WireEvent) -> KafkaInput:
    headers = [
        (("content-type" if k == "datacontenttype" else "ce_" + k), to_bytes(v))
        for k, v in wire.attributes.items()
    ]
    headers += [(name, to_bytes(value)) for name, value in wire.extras]
    return wire.data, headers


def kafka_structured(wire: WireEvent) -> KafkaInput:
    return structured_text(wire), [("content-type", STRUCTURED_CONTENT_TYPE.encode())]


def http_binary(wire: WireEvent) -> HttpInput:
    headers: dict[str, str] = {}
    for k, v in [*wire.attributes.items(), *wire.extras]:
        if k == "datacontenttype":
            headers["Content-Type"] = v
        else:
            headers["ce-" + k] = quote(v, safe="", errors="surrogatepass")
    return headers, wire.data


def http_structured(wire: WireEvent) -> HttpInput:
    return {"Content-Type": STRUCTURED_CONTENT_TYPE}, structured_text(wire)


def http_batch(wires: list[WireEvent]) -> HttpInput:
    return {"Content-Type": BATCH_CONTENT_TYPE}, b"[" + b",".join(
        structured_text(w) for w in wires
    ) + b"]"


def encoded_kafka(event: Event, structured: bool) -> KafkaInput:
    key, value, headers = (encode_kafka_structured if structured else encode_kafka_binary)(event)
    del key
    return value, list(headers)


def encoded_http(event: Event, structured: bool) -> HttpInput:
    return (encode_http_structured if structured else encode_http_binary)(event)


# --- the properties -------------------------------------------------------------------------


def bounded(judge: Callable[[], T], input_size: int) -> T:
    """Run one judgement under tracemalloc (only it: tracing the generation of inputs too
    would cost more than the rest); fail if its peak passes the bound for the input."""
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        result = judge()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    limit = MEMORY_FACTOR * input_size + MEMORY_SLACK
    assert peak <= limit, f"judging {input_size} bytes peaked at {peak} bytes (limit {limit})"
    return result


def check_verdict(verdict: Verdict, wire: WireEvent | None) -> None:
    """A verdict of the contract: Accepted with signed content (the original's, if the
    input came from one), or Rejected with a Reason and a message."""
    assert isinstance(verdict, Accepted | Rejected), verdict
    if isinstance(verdict, Rejected):
        assert isinstance(verdict.reason, Reason)
        assert verdict.message.strip()
        assert "internal" not in verdict.message, verdict.message
        assert wire is None or not wire.valid, f"a valid event was refused: {verdict}"
        return
    digest = verdict.event.content_hash
    assert digest in SIGNED, "accepted content nobody signed"
    if wire is not None and wire.original is not None:
        assert digest == wire.original, "a mutation was accepted as other content"


def input_size_kafka(value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    return len(value or b"") + sum(len(to_bytes(n)) + len(v) for n, v in headers)


def input_size_http(headers: dict[str, str], body: bytes) -> int:
    return len(body) + sum(len(to_bytes(n)) + len(to_bytes(v)) for n, v in headers.items())
