"""The routing file's refusals on hostile input: YAML 1.1 spellings, e-mail addresses, wrong
types, unknown keys, nesting and size bounds. Each is a `RoutingConfigError` whose message
reads `file:line: <field> <reason>`, never another exception."""

from __future__ import annotations

import pytest

from services.notify.domain import routing_yaml
from services.notify.domain.config import RoutingConfigError, load_routing
from services.notify.domain.receivers import EmailConfig, WebhookConfig

ROUTE = "route: {receiver: r}\n"
RECEIVERS = "receivers:\n  - name: r\n"


def refusal(text: str) -> str:
    with pytest.raises(RoutingConfigError) as caught:
        load_routing(text, "r.yaml")
    return str(caught.value)


def webhook(max_alerts: str) -> str:
    return (
        ROUTE + RECEIVERS + "    webhook_configs:\n      - url: https://hooks.example.org/x\n"
        f"        max_alerts: {max_alerts}\n"
    )


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        ("0x10", "must be a decimal integer of at most 18 digits, not '0x10'"),
        ("0o17", "must be an integer"),  # YAML 1.1 reads it as text
        ("0b101", "must be a decimal integer"),
        ("1_000", "must be a decimal integer"),
        ("1:30", "must be a decimal integer"),
        ("'5'", "must be an integer"),
        ("1.5", "must be an integer"),
        ("true", "must be an integer"),
        ("~", "must be an integer"),
        ("[5]", "must be an integer"),
        ("-1", "must be at least 0"),
    ],
)
def test_max_alerts_is_a_plain_decimal(spelling: str, reason: str) -> None:
    assert refusal(webhook(spelling)).startswith(
        f"r.yaml:6: r.webhook_configs[].max_alerts {reason}"
    )


def test_max_alerts_in_decimal_is_read() -> None:
    (integration,) = load_routing(webhook("+16")).integrations("r")
    assert isinstance(integration.config, WebhookConfig) and integration.config.max_alerts == 16


def email(to: str, sender: str = "planwatch@qy.example") -> str:
    return ROUTE + RECEIVERS + f"    email_configs:\n      - to: {to}\n        from: {sender}\n"


@pytest.mark.parametrize(
    "address",
    [
        "x@",
        "@y.example",
        "a@b@c.example",
        "Ops <ops@qy.example>",
        "ops@localhost",  # no dot: not deliverable beyond one host
        "a..b@qy.example",
        ".a@qy.example",
        "a.@qy.example",
        "a@-qy.example",
        "a@qy.example.",
        "a@qy_x.example",
        "a b@qy.example",
        "a\\u0000@qy.example",
        "\\ud800@qy.example",
        "x" * 65 + "@qy.example",
        "a@" + "b" * 64 + ".example",
        "a@" + ".".join(["b" * 60] * 5),  # over 254 characters
    ],
)
def test_an_address_that_is_not_local_at_domain_is_refused(address: str) -> None:
    message = refusal(email(f'"{address}"'))
    assert message.startswith("r.yaml:5: r.email_configs[].to: ")
    assert message.endswith(" is not an e-mail address")
    assert refusal(email("ops@qy.example", f'"{address}"')).startswith(
        "r.yaml:6: r.email_configs[].from: "
    )


def test_addresses_that_are_accepted() -> None:
    addresses = [
        "ops@qy.example",
        "first.last+alerts@mail.qy.example",
        "o'brien@qy-miit.example",
        "coordinator@qy-miit.demo.invalid",  # the demo's reserved domain
        "值班@清远.中国",
    ]
    config = load_routing(email("[" + ", ".join(addresses) + "]", "planwatch@demo.invalid"))
    (integration,) = config.integrations("r")
    assert isinstance(integration.config, EmailConfig)
    assert integration.config.to == tuple(addresses)
    assert integration.config.sender == "planwatch@demo.invalid"


def test_each_bad_address_is_named_on_its_own_line() -> None:
    text = email("\n          - ok@qy.example\n          - x@\n          - '@y'")
    assert refusal(text).splitlines() == [
        "r.yaml:7: r.email_configs[].to: 'x@' is not an e-mail address",
        "r.yaml:8: r.email_configs[].to: '@y' is not an e-mail address",
    ]


def test_an_empty_recipient_list_is_refused() -> None:
    assert refusal(email("[]")) == "r.yaml:5: r.email_configs[].to must list at least one address"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("route: [receiver, r]\n" + RECEIVERS, "r.yaml:1: route must be a mapping"),
        (ROUTE + "receivers: {name: r}\n", "r.yaml:2: receivers must be a list"),
        ("- route\n", "r.yaml:1: the file must be a mapping"),
        ("route: {receiver: r, continue: 'true'}\n" + RECEIVERS, "continue must be true or"),
        ("route: {receiver: r, routes: [{continue: 1}]}\n" + RECEIVERS, "routes[].continue must"),
        ("route: {receiver: r, group_by: ~}\n" + RECEIVERS, "r.yaml:1: route.group_by must be a"),
        ("route: {receiver: [r]}\n" + RECEIVERS, "r.yaml:1: route.receiver must be a string"),
        ("route: {receiver: r, group_wait: 30}\n" + RECEIVERS, "bad duration '30'"),
        (ROUTE + "receivers:\n  - name: yes\n", "r.yaml:3: receivers[].name must be a string"),
        (ROUTE + "receivers:\n  - name: ''\n", "r.yaml:3: receivers[].name must not be empty"),
        (ROUTE + "receivers:\n  - r\n", "r.yaml:3: receivers[] must be a mapping"),
        (
            ROUTE + RECEIVERS + "    kafka_configs: {topic: t}\n",
            "r.yaml:4: r.kafka_configs must be a list",
        ),
        (ROUTE + RECEIVERS + "    kafka_configs: [{topic: ~}]\n", "kafka_configs[].topic must be"),
        (ROUTE + RECEIVERS + "    kafka_configs: [{}]\n", "r.kafka_configs[]: 'topic' is required"),
        (
            ROUTE
            + RECEIVERS
            + "    webhook_configs: [{url: 'https://x.example', allow_private: 1}]\n",
            "r.yaml:4: r.webhook_configs[].allow_private must be true or false",
        ),
        (
            ROUTE + RECEIVERS + "    wecom_configs: [{url_ref: env:A, key_ref: env:B}]\n",
            "r.yaml:4: r.wecom_configs[]: give exactly one of url_ref and key_ref",
        ),
        ("receivers: []\n", "r.yaml:1: the file: 'route' is required"),
    ],
)
def test_wrong_types_name_the_field(text: str, expected: str) -> None:
    assert expected in refusal(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "route:\n  receiver: r\n  routes:\n    - receiver: r\n      routes:\n"
            "        - receiver: r\n          recevier: s\n" + RECEIVERS,
            "r.yaml:7: routes[]: unknown key 'recevier' (allowed: continue, escalation, "
            "group_by, group_interval, group_wait, matchers, receiver, repeat_interval, routes)",
        ),
        (
            ROUTE + RECEIVERS + "    email_configs:\n      - to: a@qy.example\n"
            "        from: b@qy.example\n        cc: c@qy.example\n",
            "r.yaml:7: r.email_configs[]: unknown key 'cc' (allowed: from, html, send_resolved,"
            " to)",
        ),
        (ROUTE + RECEIVERS + "global: {}\n", "r.yaml:4: the file: unknown key 'global'"),
        (
            ROUTE + RECEIVERS + "inhibit_rules:\n  - source_match: {a: b}\n",
            "r.yaml:5: inhibit_rules[]: unknown key 'source_match'",
        ),
        ("route: {receiver: r, receiver: s}\n" + RECEIVERS, "r.yaml:1: duplicate key 'receiver'"),
        ("route: {receiver: r, [a]: 1}\n" + RECEIVERS, "r.yaml:1: a key must be a plain string"),
        ('route: {receiver: r, "\\ud800": 1}\n' + RECEIVERS, "is not valid Unicode"),
        ("<<: {route: {receiver: r}}\n" + RECEIVERS, "the file: unknown key '<<'"),
    ],
)
def test_unknown_and_duplicate_keys_name_their_line(text: str, expected: str) -> None:
    assert expected in refusal(text)


def test_every_field_of_an_entry_is_reported_and_no_receiver_is_lost() -> None:
    # A receiver whose integration is bad still exists: its routes are not "unknown".
    text = (
        "route:\n  receiver: r\n  routes:\n    - receiver: r\n"
        + RECEIVERS
        + "    webhook_configs:\n      - url: ftp://x\n        max_alerts: 0x10\n"
        "        secret: whsec_abc\n"
    )
    assert [line.split(": ", 1)[0] for line in refusal(text).splitlines()] == [
        "r.yaml:8",
        "r.yaml:9",
        "r.yaml:10",
    ]


def nested_routes(depth: int) -> str:
    lines = ["route:", "  receiver: r", "  group_wait: 1s"]
    for level in range(1, depth + 1):
        indent = "  " * (2 * level - 1)
        lines += [f"{indent}routes:", f"{indent}  - matchers: ['level=\"{level}\"']"]
    return "\n".join(lines) + "\n" + RECEIVERS


def test_routes_nest_up_to_the_yaml_depth_bound() -> None:
    config = load_routing(nested_routes(23))
    deepest = list(config.route.walk())[-1]
    assert len(config.routes_by_id) == 24 and deepest.receiver == "r"
    assert deepest.settings.group_wait.total_seconds() == 1  # inherited through 23 levels
    assert deepest.id.endswith('{level="23"}/0') and deepest.line == 49


def test_routes_nested_beyond_the_bound_are_refused() -> None:
    assert refusal(nested_routes(24)) == "r.yaml:51: nested deeper than 50 levels"


def test_a_file_over_the_node_bound_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routing_yaml, "MAX_NODES", 40)
    text = ROUTE + "receivers:\n" + "".join(f"  - name: r{i}\n" for i in range(20))
    assert refusal(text).startswith("r.yaml:") and "more than 40 YAML nodes" in refusal(text)
    load_routing(ROUTE + RECEIVERS)  # a small file is still read
