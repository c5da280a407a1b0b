from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from services.notify.domain.config import RoutingConfigError, load_routing
from services.notify.domain.matchers import Matcher, MatcherError, MatchType
from services.notify.domain.receivers import IntegrationType, WebhookConfig
from services.notify.domain.routing import match_routes
from services.notify.senders import _robot_answer

ROUTING = Path(__file__).parents[2] / "services" / "notify" / "routing.yaml"
REGISTER = Path("/work/shared/plan/register.yaml")

TREE = """\
route:
  receiver: default
  group_by: [plan]
  group_wait: 10s
  routes:
    - receiver: audit
      continue: true
      group_by: ['...']
    - receiver: miit
      matchers: ['agency="qy.miit"']
      repeat_interval: 1h
      routes:
        - receiver: miit-critical
          matchers: ['severity="critical"']
        - matchers: ['rule=~"deadline_.*"']
          group_wait: 0s
    - receiver: health
      matchers: ['agency="qy.health"', 'severity!="info"']
receivers:
  - name: default
  - name: audit
    kafka_configs: [{topic: audit}]
  - name: miit
    webhook_configs:
      - url: https://hooks.example.org/miit
        secret: env:MIIT_SECRET
        max_alerts: 5
  - name: miit-critical
    email_configs: [{to: [a@example.org], from: pw@example.org}]
  - name: health
    wecom_configs: [{key_ref: env:WECOM_KEY}]
    dingtalk_configs:
      - url: "https://oapi.dingtalk.com/robot/send?access_token=x"
        secret: "file:/run/s"
"""


def receivers_for(labels: dict[str, str]) -> list[str]:
    config = load_routing(TREE)
    return [r.receiver for r in match_routes(config.route, labels)]


def test_first_match_wins_with_continue_and_fallback() -> None:
    assert receivers_for({"agency": "qy.miit", "severity": "warning"}) == ["audit", "miit"]
    assert receivers_for({"agency": "qy.miit", "severity": "critical"}) == [
        "audit",
        "miit-critical",
    ]
    assert receivers_for({"agency": "qy.health", "severity": "warning"}) == ["audit", "health"]
    # info does not match health; only the continue route matched, so no root fallback
    assert receivers_for({"agency": "qy.health", "severity": "info"}) == ["audit"]


def test_root_is_the_match_when_no_child_matches() -> None:
    config = load_routing(
        "route: {receiver: r, routes: [{receiver: s, matchers: ['a=\"1\"']}]}\n"
        "receivers: [{name: r}, {name: s}]\n"
    )
    assert [r.receiver for r in match_routes(config.route, {"a": "2"})] == ["r"]
    assert [r.receiver for r in match_routes(config.route, {"a": "1"})] == ["s"]


def test_children_inherit_settings() -> None:
    config = load_routing(TREE)
    deadline = match_routes(config.route, {"agency": "qy.miit", "rule": "deadline_near"})[1]
    assert deadline.receiver == "miit"  # inherited
    assert deadline.settings.group_wait == timedelta(0)  # own
    assert deadline.settings.repeat_interval == timedelta(hours=1)  # from parent
    assert deadline.settings.group_interval == timedelta(minutes=5)  # default
    assert deadline.settings.group_by == ("plan",)  # from root
    audit = config.route.routes[0]
    assert audit.settings.group_by_all and audit.settings.group_wait == timedelta(seconds=10)


def test_route_keys_and_ids() -> None:
    config = load_routing(TREE)
    miit = config.route.routes[1]
    assert config.route.key == "{}"
    assert miit.key == '{}/{agency="qy.miit"}'
    assert miit.routes[0].key == '{}/{agency="qy.miit"}/{severity="critical"}'
    assert miit.id == '{}/{agency="qy.miit"}/1'
    assert len(config.routes_by_id) == 6


def test_receiver_configs() -> None:
    config = load_routing(TREE)
    (miit,) = config.integrations("miit")
    assert isinstance(miit.config, WebhookConfig)
    assert miit.config.url == "https://hooks.example.org/miit"
    assert miit.config.secret is not None and miit.config.secret.target == "MIIT_SECRET"
    assert miit.config.max_alerts == 5 and miit.config.send_resolved
    assert miit.key == "miit/webhook/0"
    health = config.integrations("health")
    assert [i.config.type for i in health] == [IntegrationType.WECOM, IntegrationType.DINGTALK]
    (mail,) = config.integrations("miit-critical")
    assert mail.config.type is IntegrationType.EMAIL and not mail.send_resolved
    assert config.integrations("default") == ()


def error_of(text: str) -> RoutingConfigError:
    with pytest.raises(RoutingConfigError) as caught:
        load_routing(text, "r.yaml")
    return caught.value


BASE = "receivers:\n  - name: r\n"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("route:\n  receiver: nope\n" + BASE, 2, "unknown receiver 'nope'"),
        ("route:\n  receiver: r\n  colour: red\n" + BASE, 3, "unknown key 'colour'"),
        (
            "route:\n  receiver: r\n  routes:\n    - matchers: ['a~\"b\"']\n" + BASE,
            4,
            "bad matcher",
        ),
        ("route:\n  receiver: r\n  group_wait: 5 minutes\n" + BASE, 3, "bad duration"),
        (
            "route:\n  receiver: r\n  routes:\n    - matchers: ['a=~\"(\"']\n" + BASE,
            4,
            "bad regular expression",
        ),
        ("route:\n  group_by: [plan]\n" + BASE, 2, "route: 'receiver' is required"),
        ("route:\n  receiver: r\n  matchers: ['a=\"b\"']\n" + BASE, 3, "must not have matchers"),
        ("route:\n  receiver: r\n  continue: true\n" + BASE, 3, "cannot have continue"),
        ("route:\n  receiver: r\n  group_interval: 0s\n" + BASE, 3, "greater than zero"),
        ("route:\n  receiver: r\n  group_by: ['...', plan]\n" + BASE, 3, "only entry"),
        (
            "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
            "      - url: https://x.example\n        secret: whsec_abc\n",
            6,
            "looks like the secret itself",
        ),
        (
            "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
            "      - url: ftp://x.example\n",
            5,
            "not an http(s) URL",
        ),
        (
            "route: {receiver: r}\nreceivers:\n  - name: r\n  - name: r\n",
            4,
            "duplicate receiver name",
        ),
        ("route: {receiver: r}\n" + BASE + "inhibit_rules:\n  - equal: [plan]\n", 5, "required"),
        ("route: {receiver: r}\n" + BASE + "global: {}\n", 4, "unknown key 'global'"),
        ("route: [\n", 2, "not YAML"),
        ("", 1, "empty"),
    ],
)
def test_bad_files_name_the_line(text: str, line: int, words: str) -> None:
    error = error_of(text)
    assert error.issues[0].line == line, error
    assert words in error.issues[0].message
    assert f"r.yaml:{line}:" in str(error)


def test_all_problems_reported_at_once() -> None:
    error = error_of(
        "route:\n  receiver: nope\n  group_wait: soon\n  routes:\n    - receiver: gone\n" + BASE
    )
    assert [i.line for i in error.issues] == [2, 3, 5]


def test_shipped_routing_loads_and_covers_every_agency() -> None:
    config = load_routing(ROUTING.read_text(encoding="utf-8"), str(ROUTING))
    agencies = [a["id"] for a in yaml.safe_load(REGISTER.read_text(encoding="utf-8"))["agencies"]]
    assert len(agencies) == 33
    cases = (("warning", "lead", False), ("critical", "lead", True), ("critical", "co", False))
    for agency in agencies:
        for severity, role, coordinator in cases:
            labels = {
                "alertname": "status_degraded",
                "plan": "qingyuan-digital-economy-2021",
                "agency": agency,
                "severity": severity,
                "role": role,
            }
            receivers = [r.receiver for r in match_routes(config.route, labels)]
            expected = ["notifications-kafka"]
            if coordinator:  # once per alert: the lead's copy, not every co-owner's
                expected.append("coordinator-qy-miit")
            expected.append("agency-" + agency.replace(".", "-"))
            assert receivers == expected
    (kafka,) = config.integrations("notifications-kafka")
    assert kafka.config.type is IntegrationType.KAFKA
    assert getattr(kafka.config, "topic", None) == "planwatch.notifications"
    (rule,) = config.inhibit_rules
    assert rule.equal == ("plan", "target")
    assert config.route.settings.group_by == ("plan", "agency", "rule")


def test_shipped_routing_escalates_critical_lead_copies_to_coordinator_then_leadership() -> None:
    config = load_routing(ROUTING.read_text(encoding="utf-8"), str(ROUTING))
    agencies = [a["id"] for a in yaml.safe_load(REGISTER.read_text(encoding="utf-8"))["agencies"]]
    assert {"coordinator-qy-miit", "leadership"} <= set(config.receivers)
    (mail,) = config.integrations("leadership")
    assert mail.config.type is IntegrationType.EMAIL
    for agency in agencies:
        base = {"alertname": "deadline_near", "plan": "p", "agency": agency}
        for severity, role, escalates in (
            ("critical", "lead", True),
            ("warning", "lead", False),
            ("critical", "co", False),
        ):
            labels = {**base, "severity": severity, "role": role}
            matched = match_routes(config.route, labels)
            chains = {
                r.receiver: [(s.after, s.receiver) for s in r.settings.escalation] for r in matched
            }
            own = "agency-" + agency.replace(".", "-")
            expected = (
                [(timedelta(days=1), "coordinator-qy-miit"), (timedelta(days=3), "leadership")]
                if escalates
                else []
            )
            assert chains[own] == expected, (agency, severity, role)
            assert all(not chain for r, chain in chains.items() if r != own)
    # problems keep their own path: to the coordinator, without the alerts' chain
    problem = {"alertname": "problem_overdue", "agency": "qy.miit", "severity": "critical"}
    assert [r.settings.escalation for r in match_routes(config.route, problem)] == [(), ()]


# --- found by tests/fuzz/test_notify_fuzz.py: each was an exception other than the config error

_FUZZ_BASE = """route:
  receiver: a
  group_wait: {wait}
  routes:
  - matchers: [{matcher}]
receivers:
  - name: a
    webhook_configs:
      - url: {url}
        max_alerts: {alerts}
"""


@pytest.mark.parametrize(
    ("changes", "line", "message"),
    [
        ({"wait": "99999999999999999y"}, 3, "too large"),
        ({"wait": "9" * 5000 + "s"}, 3, "too large"),
        ({"alerts": "0x10"}, 10, "decimal integer"),
        ({"alerts": "1:30"}, 10, "decimal integer"),
        ({"alerts": "9" * 5000}, 10, "decimal integer"),
        ({"url": "http://[::1"}, 9, "not an http(s) URL"),
        ({"url": "http://h:99999"}, 9, "not an http(s) URL"),
        ({"matcher": '"a=~\\ud800"'}, 5, "not valid Unicode"),
    ],
)
def test_hostile_values_are_config_errors_with_their_line(
    changes: dict[str, str], line: int, message: str
) -> None:
    fields = {"wait": "1s", "matcher": "a=b", "url": "https://example.org/x", "alerts": "1"}
    text = _FUZZ_BASE.format(**(fields | changes))
    with pytest.raises(RoutingConfigError) as caught:
        load_routing(text, "r.yaml")
    assert f"r.yaml:{line}: " in str(caught.value) and message in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "route: \x07\n",
        "\x00",
        "[" * 20_000 + "]" * 20_000,
        "a:\n" + "- " * 2000 + "x\n",
        "route:\n  receiver: a\n"
        + "".join(
            "  " * (i + 1) + "routes:\n" + "  " * (i + 1) + "- receiver: a\n" for i in range(400)
        )
        + "receivers:\n- name: a\n  kafka_configs: [{topic: t}]\n",
        "route: &r\n  receiver: a\n  routes: [*r]\n"
        + "receivers:\n- name: a\n  kafka_configs: [{topic: t}]\n",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
            for p, c in zip("abcde", "bcdef", strict=True)
        )
        + "route: *f\n",
    ],
    ids=["control", "nul", "deep-flow", "deep-block", "deep-routes", "alias-cycle", "alias-bomb"],
)
def test_unreadable_or_too_deep_files_are_config_errors(text: str) -> None:
    with pytest.raises(RoutingConfigError) as caught:
        load_routing(text, "r.yaml")
    assert str(caught.value).startswith("r.yaml:")


def test_a_label_name_ending_in_a_newline_is_refused() -> None:
    with pytest.raises(MatcherError):
        Matcher("a\n", MatchType.EQUAL, "x")


def test_a_deeply_nested_robot_answer_is_ignored() -> None:
    assert _robot_answer(b"[" * 70_000) is None


def test_a_matcher_value_with_a_lone_surrogate_is_refused() -> None:
    # It reached MongoDB from POST /api/v2/silences (a 500: BSON refuses it) and raised
    # UnicodeEncodeError out of RE2 for a regex.
    for kind in MatchType:
        with pytest.raises(MatcherError):
            Matcher("a", kind, "\ud800")
