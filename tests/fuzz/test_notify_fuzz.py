"""notify under hostile input: routing-file text, silences and acknowledgement API requests,
receiver responses.

- Routing file: `load_routing` returns a config or raises `RoutingConfigError` whose every
  line reads `<source>:<line>: <reason>`, never another exception; a regular expression
  over the cap is refused; matching runs on RE2 (linear time), so every parse and match
  ends (no wall-clock assertion: the test finishing is the assertion). Routes carry
  `escalation` chains (steps shared between routes become YAML aliases): a loaded chain has
  steps after 0 increasing, each to a receiver of the file.
- Silences API (`POST /api/v2/silences` through FastAPI's TestClient over an in-memory
  store): 200 with a stored silence that is valid and storable in BSON, or a 4xx with a
  detail; never a 500 (the TestClient re-raises any exception of the app).
- Acknowledgement API (`POST`/`DELETE /api/v1/alerts/{fingerprint}/ack`, `GET /api/v1/acks`,
  hostile fingerprints, bodies and queries, over an in-memory store holding one firing
  alert): 200 with a stored acknowledgement that is valid, or a 4xx problem detail; never a
  500.
- Receiver responses: `classify_response` and `next_step` for any status and any
  `Retry-After` never raise and give a delay in [0, MAX_RETRY_AFTER]; a robot's JSON answer
  of any bytes is read without an exception.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from services.notify.ack_api import ack_router
from services.notify.alertmanager_api import ALERTMANAGER_ERROR_PATHS
from services.notify.api import api_router
from services.notify.clock import ManualClock
from services.notify.domain.acks import MAX_NOTE, ack_id, validate_ack
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfig, RoutingConfigError, load_routing
from services.notify.domain.delivery import (
    MAX_RETRY_AFTER,
    OutcomeKind,
    RetryPolicy,
    StepKind,
    classify_response,
    next_step,
)
from services.notify.domain.matchers import MAX_PATTERN_CHARS, matches_all
from services.notify.domain.pipeline import dispatch
from services.notify.domain.silences import validate_silence
from services.notify.memory_store import InMemoryNotifyStore
from services.notify.metrics import NotifyMetrics
from services.notify.senders import _robot_answer
from shared.runtime.auth import Authenticator, install
from shared.runtime.problems import install_problem_handlers
from tests.fuzz.support import UNICODE_EDGES, fuzz_settings

pytestmark = pytest.mark.fuzz

ROUTING_EXAMPLES = 5_000
SILENCE_EXAMPLES = 3_000
RESPONSE_EXAMPLES = 10_000
NOW: Final = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

# --- routing file -----------------------------------------------------------------------------

edge_texts = st.sampled_from(UNICODE_EDGES) | st.text(max_size=10)
LONG_PATTERN: Final = "a" * (MAX_PATTERN_CHARS + 1)
regexes = (
    st.sampled_from(
        [
            ".*",
            "(.*.*)*x",
            "(a+)+$",
            "(a|aa)*b",
            "x{1000}",
            "x{1001}",
            "[",
            "(?P<n>a)",
            "\\",
            "(?=a)",  # lookahead: not in RE2
            "\\1",  # backreference: not in RE2
            "a" * MAX_PATTERN_CHARS,
            "\ud800",
            "é|掌",
            "",
        ]
    )
    | edge_texts
)
label_names = st.sampled_from(["severity", "plan", "agency", "a", "_x", "1a", "a-b", "", "é"])
operators = st.sampled_from(["=", "!=", "=~", "!~", "==", "~", ""])


@st.composite
def matcher_texts(draw: st.DrawFn) -> str:
    value = draw(regexes | edge_texts)
    quoted = draw(st.booleans())
    if quoted:
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    one = f"{draw(label_names)}{draw(operators)}{value}"
    if draw(st.integers(0, 4)) == 0:
        return "{" + one + ", " + draw(label_names) + '="x"}'
    return one


durations = (
    st.sampled_from(
        [
            *("30s", "5m", "0", "0s", "1h30m", "1d", "99999999999999999999y", "9" * 30 + "ms"),
            *("-5m", "1m1h", "5", "", "1.5h", "10000000000w"),
        ]
    )
    | edge_texts
)
scalars: st.SearchStrategy[Any] = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | edge_texts
)


@st.composite
def routes(draw: st.DrawFn, depth: int, receivers: list[str]) -> dict[str, Any]:
    route: dict[str, Any] = {}
    if draw(st.integers(0, 5)) > 0:
        route["receiver"] = draw(
            st.sampled_from([*receivers, "nobody"]) if receivers else edge_texts
        )
    if depth > 0 and draw(st.booleans()):
        route["matchers"] = draw(st.lists(matcher_texts(), max_size=3))
    for name in ("group_wait", "group_interval", "repeat_interval"):
        if draw(st.integers(0, 3)) == 0:
            route[name] = draw(durations)
    if draw(st.integers(0, 3)) == 0:
        route["group_by"] = draw(
            st.lists(label_names | st.just("..."), max_size=3) | st.just("...") | scalars
        )
    if draw(st.integers(0, 5)) == 0:
        route["continue"] = draw(scalars | st.sampled_from(["yes", "off", "True"]))
    if draw(st.integers(0, 9)) == 0:
        route[draw(st.sampled_from(["mathcers", "routes", "receiver"]) | edge_texts)] = draw(
            scalars
        )
    if draw(st.integers(0, 3)) == 0:
        route["escalation"] = draw(escalations(receivers))
    if depth < 3 and draw(st.integers(0, 2)) == 0:
        route["routes"] = draw(st.lists(routes(depth + 1, receivers), max_size=3))
        shared = route.get("escalation")
        if isinstance(shared, list) and route["routes"] and draw(st.booleans()):
            route["routes"][0]["escalation"] = shared  # one object twice: a YAML alias
    return route


@st.composite
def escalations(draw: st.DrawFn, receivers: list[str]) -> Any:
    """An escalation chain: steps `{after, receiver}`, increasing or not, to known receivers
    or not, with keys missing or unknown; or not a list at all."""
    steps = []
    for _ in range(draw(st.integers(0, 3))):
        step: dict[str, Any] = {}
        if draw(st.integers(0, 9)) > 0:
            step["after"] = draw(durations | st.sampled_from(["2h", "1d", "3d", "1w"]))
        if draw(st.integers(0, 9)) > 0:
            step["receiver"] = draw(st.sampled_from([*receivers, "nobody"]) | edge_texts)
        if draw(st.integers(0, 9)) == 0:
            step[draw(st.sampled_from(["afer", "receivers", "matchers"]) | edge_texts)] = draw(
                scalars
            )
        steps.append(step)
    return draw(st.just(steps) | st.sampled_from([None, "2h", {"after": "1h"}]) | scalars)


@st.composite
def integrations(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["webhook", "email", "kafka", "wecom", "dingtalk", "other"]))
    config: dict[str, Any] = {}
    if kind in ("webhook", "dingtalk"):
        config[draw(st.sampled_from(["url", "url_ref"]))] = draw(
            st.sampled_from(
                ["https://example.org/hook", "http://[::1", "ftp://x", "https://", "env:HOOK"]
            )
            | edge_texts
        )
        if draw(st.booleans()):
            config["max_alerts"] = draw(scalars)
        if draw(st.booleans()):
            config["secret"] = draw(st.sampled_from(["env:S", "file:/x", "plain"]) | edge_texts)
    elif kind == "email":
        config = {"to": draw(st.sampled_from(["a@b", "nope"]) | edge_texts), "from": "n@x"}
    elif kind == "kafka":
        config = {"topic": draw(st.sampled_from(["alerts"]) | scalars)}
    elif kind == "wecom":
        config = {draw(st.sampled_from(["url_ref", "key_ref"])): draw(edge_texts)}
    else:
        config = {"x": draw(scalars)}
    return {f"{kind}_configs": [config]}


@st.composite
def routing_documents(draw: st.DrawFn) -> tuple[str, bool]:
    """A routing file from its grammar, as YAML text; and whether it holds a pattern over
    the cap (then it must be refused)."""
    names = draw(st.lists(st.sampled_from(["ops", "team-a", "b", ""]), unique=True, max_size=3))
    receivers = [{"name": n, **draw(integrations())} for n in names]
    document: dict[str, Any] = {
        "route": draw(routes(0, names)),
        "receivers": receivers,
    }
    if draw(st.integers(0, 3)) == 0:
        document["inhibit_rules"] = [
            {
                "source_matchers": draw(st.lists(matcher_texts(), max_size=2)),
                "target_matchers": draw(st.lists(matcher_texts(), max_size=2)),
                "equal": draw(st.lists(label_names, max_size=2) | scalars),
            }
        ]
    long_pattern = draw(st.integers(0, 19)) == 0
    if long_pattern:
        if not isinstance(document["route"].get("routes"), list):
            document["route"]["routes"] = []
        document["route"]["routes"].append(
            {"receiver": names[0] if names else "x", "matchers": [f'plan=~"{LONG_PATTERN}"']}
        )
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    return text, long_pattern


YAML_SPELLINGS: Final = (
    "0x10",
    "0o17",
    "0b101",
    "1:30",
    "190:20:30",
    "1_000",
    "+12",
    "-0",
    ".inf",
    ".nan",
    "~",
    "!!binary aGk=",
    "!!python/object/apply:os.system ['true']",
    "&a x",
    "*a",
    "*undefined",
    "<<: {a: 1}",
    "'unterminated",
    '"\\ud800"',
    '"\\x00"',
    "9" * 5000,
    "[" * 2000,
    "{" * 300 + "}" * 300,
    "\t",
    "%YAML 1.1",
    "---",
    "...",
)


@st.composite
def routing_texts(draw: st.DrawFn) -> tuple[str, bool]:
    """A grammar document, as is or with its text mutated (a scalar respelled, characters
    inserted or deleted, deep nesting), or garbage."""
    text, long_pattern = draw(routing_documents())
    kind = draw(st.integers(0, 9))
    if kind < 4:
        return text, long_pattern
    lines = text.splitlines()
    if kind < 7 and lines:  # respell one value
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        head = line.split(":", 1)[0] + ": " if ":" in line else line[: line.find("- ") + 2]
        lines[index] = head + draw(st.sampled_from(YAML_SPELLINGS))
        return "\n".join(lines) + "\n", False
    if kind < 9:
        position = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            inserted = draw(st.sampled_from(UNICODE_EDGES) | st.text(max_size=4))
            return text[:position] + inserted + text[position:], False
        return text[:position] + text[position + draw(st.integers(1, 20)) :], False
    return draw(
        st.text(max_size=200)
        | st.sampled_from(YAML_SPELLINGS)
        | st.sampled_from([60, 2000]).map(lambda n: "a:\n" + "- " * n + "x\n")
        | st.sampled_from([30, 300]).map(
            lambda n: (
                "route:\n"
                + "".join(
                    "  " * i + "  routes:\n" + "  " * i + "  - receiver: a\n" for i in range(n)
                )
            )
        )
    ), False


_ISSUE_LINE: Final = re.compile(r"\A<fuzz>:(\d+): \S.*\Z", re.DOTALL)


@fuzz_settings(ROUTING_EXAMPLES)
@given(case=routing_texts())
def test_routing_file_refusals_name_file_and_line(case: tuple[str, bool]) -> None:
    text, long_pattern = case
    try:
        config = load_routing(text, "<fuzz>")
    except RoutingConfigError as exc:
        assert exc.issues, "a refusal without a reason"
        lines = str(exc).split("\n<fuzz>:")
        assert lines[0].startswith("<fuzz>:")
        for issue in exc.issues:
            # YAML breaks lines at U+0085, U+2028 and U+2029 too: splitlines counts those.
            assert 1 <= issue.line <= len(text.splitlines()) + 2, (issue, text)
            assert issue.message.strip()
        assert _ISSUE_LINE.match(str(exc).split("\n")[0]), str(exc)
        if long_pattern:
            assert f"longer than {MAX_PATTERN_CHARS}" in str(exc)
        return
    assert isinstance(config, RoutingConfig)
    assert not long_pattern, "a pattern over the cap was accepted"
    # Every route's matchers run on hostile label values; RE2 keeps each match linear.
    for route in config.route.walk():
        for value in ("", "x" * 10_000 + "!", "a" * 5_000, "掌" * 1000):
            matches_all(route.matchers, {"plan": value, "severity": value, "agency": value})
        # An escalation chain as loaded: steps after 0, increasing, to receivers of the file.
        afters = [step.after for step in route.settings.escalation]
        assert all(after > timedelta(0) for after in afters), afters
        assert afters == sorted(set(afters)), afters
        assert all(step.receiver in config.receivers for step in route.settings.escalation)


# --- silences API ---------------------------------------------------------------------------


STORE: Final = InMemoryNotifyStore()  # records go through BSON, as to MongoDB
CLOCK: Final = ManualClock(NOW)
_APP = FastAPI()
install(_APP, Authenticator.development())  # the bodies are fuzzed, not the tokens
install_problem_handlers(_APP, plain_prefixes=ALERTMANAGER_ERROR_PATHS)
_APP.include_router(api_router(STORE, CLOCK, NotifyMetrics(CollectorRegistry())))
CLIENT: Final = TestClient(_APP)


@st.composite
def timestamps(draw: st.DrawFn) -> Any:
    when = draw(
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
        | st.sampled_from([datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)])
    )
    offset = draw(st.sampled_from(["Z", "+00:00", "+08:00", "-23:59", "+23:59", "", "+24:00"]))
    text = when.isoformat() + offset
    return draw(
        st.just(text) | st.sampled_from(["now", "", "2026-13-01T00:00:00Z"]) | st.integers()
    )


json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | edge_texts
matcher_bodies = st.fixed_dictionaries(
    {"name": label_names | json_scalars, "value": regexes | json_scalars},
    optional={
        "isRegex": st.booleans() | json_scalars,
        "isEqual": st.booleans() | json_scalars,
        "extra": json_scalars,
    },
)
silence_bodies = st.fixed_dictionaries(
    {},
    optional={
        "matchers": st.lists(matcher_bodies, max_size=3) | json_scalars,
        "startsAt": timestamps(),
        "endsAt": timestamps(),
        "createdBy": st.sampled_from(["ops"]) | json_scalars,
        "comment": json_scalars,
        "id": st.sampled_from(["missing-id"]) | json_scalars,
        "unknown": json_scalars,
    },
)


def _json_bytes(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


raw_bodies = silence_bodies.map(_json_bytes) | st.sampled_from(
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'{"matchers": NaN}',
        b"[" * 5000 + b"]" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
        b"\xff\xfe",
        b'{"matchers":[{"name":"a","value":"\\ud800"}],"endsAt":"2027-01-01T00:00:00Z","createdBy":"x"}',
    ]
)


@fuzz_settings(SILENCE_EXAMPLES)
@given(body=raw_bodies)
def test_silences_api_refuses_with_a_clear_error_never_a_500(body: bytes) -> None:
    answer = CLIENT.post(
        "/api/v2/silences", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code in {200, 400, 404, 409, 422}, (answer.status_code, answer.text)
    if answer.status_code != 200:
        detail = answer.json()  # Alertmanager's error shape: a JSON string
        assert isinstance(detail, str) and detail, answer.text
        return
    stored = asyncio_run(STORE.silence(answer.json()["silenceID"]))
    assert stored is not None
    validate_silence(stored[0])


def asyncio_run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# --- acknowledgement API ---------------------------------------------------------------------

ACK_EXAMPLES = 3_000
ACK_ROUTING: Final = """\
route:
  receiver: lead
  group_by: [target]
  routes:
    - receiver: lead
      matchers: ['severity="critical"']
      escalation:
        - {after: 1h, receiver: coordinator}
receivers:
  - name: lead
    webhook_configs: [{url: "https://lead.example/hook"}]
  - name: coordinator
    webhook_configs: [{url: "https://coordinator.example/hook"}]
"""
ACK_ALERT: Final = Alert(
    fingerprint="5f0c2a9d3e1b7a64",
    labels={"alertname": "status_degraded", "target": "t-1", "severity": "critical"},
    annotations={},
    starts_at=NOW - timedelta(hours=2),
    updated_at=NOW - timedelta(hours=2),
)
ACK_STORE: Final = InMemoryNotifyStore()  # records go through BSON, as to MongoDB
_ACK_CONFIG: Final = load_routing(ACK_ROUTING, "ack-routing.yaml")
for _state in dispatch(_ACK_CONFIG, ACK_ALERT, {}, ACK_ALERT.starts_at).values():
    asyncio.run(ACK_STORE.save_alert_state(_state, ACK_ALERT.fingerprint, ACK_ALERT.starts_at))
_ACK_APP = FastAPI()
install(_ACK_APP, Authenticator.development())  # the requests are fuzzed, not the tokens
install_problem_handlers(_ACK_APP)
_ACK_APP.include_router(ack_router(_ACK_CONFIG, ACK_STORE, CLOCK))
ACK_CLIENT: Final = TestClient(_ACK_APP)

fingerprints = st.sampled_from([ACK_ALERT.fingerprint, "0" * 16, "", ".", "..", "a/b", "%2F"]) | (
    edge_texts
)
ack_receivers = st.sampled_from(["lead", "coordinator", "nobody", "Lead", " lead"]) | json_scalars
ack_bodies = st.fixed_dictionaries(
    {},
    optional={
        "receiver": ack_receivers,
        "note": st.sampled_from(["on it", "x" * MAX_NOTE, "x" * (MAX_NOTE + 1), "<b>&</b>"])
        | json_scalars,
        "until": timestamps() | st.sampled_from(["2026-03-01T13:00:00Z", "2026-03-01T12:00:00Z"]),
        "by": json_scalars,
    },
)
raw_ack_bodies = ack_bodies.map(_json_bytes) | st.sampled_from(
    [b"", b"{", b"[]", b"null", b'{"receiver": NaN}', b'{"receiver": "\\ud800"}', b"\xff"]
)
queries = st.dictionaries(
    st.sampled_from(["fingerprint", "receiver", "active", "other"]),
    st.sampled_from(["true", "false", "1", "yes", "maybe", ""]) | st.text(max_size=8),
    max_size=3,
)


def _path(fingerprint: str) -> str:
    quoted = quote(fingerprint.encode("utf-8", "surrogatepass"), safe="")
    return f"/api/v1/alerts/{quoted}/ack"


def _check_problem(answer: Any) -> None:
    assert answer.status_code in {400, 404, 405, 422}, (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    problem = answer.json()
    assert problem["status"] == answer.status_code and problem["title"], problem


@fuzz_settings(ACK_EXAMPLES)
@given(
    method=st.sampled_from(["POST", "POST", "DELETE", "GET"]),
    fingerprint=fingerprints,
    body=raw_ack_bodies,
    query=queries,
)
def test_ack_api_refuses_with_a_problem_never_a_500(
    method: str, fingerprint: str, body: bytes, query: dict[str, str]
) -> None:
    headers = {"Content-Type": "application/json"}
    if method == "GET":
        answer = ACK_CLIENT.get("/api/v1/acks", params=query)
    elif method == "DELETE":
        answer = ACK_CLIENT.delete(_path(fingerprint), params=query)
    else:
        answer = ACK_CLIENT.post(_path(fingerprint), content=body, headers=headers)
    if answer.status_code != 200:
        _check_problem(answer)
        return
    if method == "GET":
        assert isinstance(answer.json(), list)
        return
    view = answer.json()
    assert view["fingerprint"] == ACK_ALERT.fingerprint
    assert view["receiver"] in _ACK_CONFIG.receivers
    if method == "POST":
        stored = {a.id: a for a in asyncio.run(ACK_STORE.acks())}
        ack = stored[ack_id(view["fingerprint"], view["receiver"], view["by"])]
        assert ack.starts_at == ACK_ALERT.starts_at
        validate_ack(ack, NOW)  # the stored one is one the API accepts


# --- receiver responses ---------------------------------------------------------------------

retry_after_values = st.none() | st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        [
            "0",
            "604800",
            "604801",
            "9" * 12,
            "9" * 13,
            "9" * 400,
            "1.5",
            "-1",
            " 30 ",
            "²",
            "١٢",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "Mon, 01 Jan 0001 00:00:00 GMT",
            "Mon, 01 Jan 0001 00:00:00 +2359",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "31 Dec 9999 23:59:59 -2359",
            "1 Jan 99999 0:0:0 GMT",
            "Thu, 01 Jan 1970 00:00:00 -0000",
            "x" * 65,
            "",
        ]
    ),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.strftime("%a, %d %b %Y %H:%M:%S GMT")
    ),
    st.text(max_size=70),
)
statuses = st.sampled_from([200, 204, 301, 400, 404, 408, 410, 429, 500, 503]) | st.integers(
    -(2**40), 2**40
)


@fuzz_settings(RESPONSE_EXAMPLES)
@given(
    status=statuses,
    retry_after=retry_after_values,
    now=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=st.just(UTC)
    ),
    attempt=st.integers(1, 50),
    age=st.integers(0, 10**6),
    draw=st.floats(0, 1, exclude_max=True),
    body=st.binary(max_size=200)
    | st.sampled_from([b"[" * 70_000, b'{"errcode":' + b"9" * 5000 + b"}", b'{"errcode":45009}'])
    | st.sampled_from(
        [b'{"errcode": 1, "errmsg": "\\ud800"}', b'{"errcode": true}', b"\xef\xbb\xbf{}"]
    ),
)
def test_receiver_responses_are_classified_with_a_bounded_delay(
    status: int,
    retry_after: str | None,
    now: datetime,
    attempt: int,
    age: int,
    draw: float,
    body: bytes,
) -> None:
    outcome = classify_response(status, retry_after, now)
    assert outcome.reason
    if 200 <= status < 300:
        assert outcome.kind is OutcomeKind.SUCCESS
    if outcome.retry_after is not None:
        assert timedelta(0) <= outcome.retry_after <= MAX_RETRY_AFTER
    policy = RetryPolicy()
    first = now - timedelta(seconds=age)
    step = next_step(policy, outcome, attempt=attempt, first_attempt_at=first, now=now, rng=draw)
    if step.kind is StepKind.RETRY:
        assert step.retry_at is not None
        assert now <= step.retry_at <= first + policy.max_age
    robot = _robot_answer(body)
    assert robot is None or robot.kind in (OutcomeKind.RETRY, OutcomeKind.FAILED)
