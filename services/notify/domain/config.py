"""The routing file: an Alertmanager-compatible subset (``route``, ``receivers``,
``inhibit_rules``) plus receiver types of our own. Parsed from YAML compose nodes so every
refusal names the line it is about."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from services.notify.domain.durations import DurationError, parse_duration
from services.notify.domain.inhibit import InhibitRule
from services.notify.domain.matchers import LABEL_NAME, Matcher, MatcherError, parse_matchers
from services.notify.domain.receivers import (
    DingtalkConfig,
    EmailConfig,
    Integration,
    IntegrationConfig,
    KafkaConfig,
    Receiver,
    SecretRef,
    SecretRefError,
    WebhookConfig,
    WecomConfig,
)
from services.notify.domain.routing import Route, RouteSettings, route_key

T = TypeVar("T")
P = ParamSpec("P")

_TOP_KEYS = {"route", "receivers", "inhibit_rules"}
_ROUTE_KEYS = {
    "receiver",
    "matchers",
    "continue",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "routes",
}
_INHIBIT_KEYS = {"name", "source_matchers", "target_matchers", "equal"}
_DECIMAL = re.compile(r"[-+]?[0-9]{1,18}")
# Bounds on the YAML tree, checked before the file is read (aliases count each time they are
# used, so an alias bomb or an alias cycle is refused too): no parse recursing without end.
MAX_NESTING = 50
MAX_NODES = 100_000
# local@domain: a local part and a dotted domain of letters, digits and hyphens (Unicode
# letters allowed), no spaces, quotes or angle brackets: "x@", "@y", "a@b@c" are refused
# here rather than by the mail relay at send time.
_DOMAIN_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"[^@\s\"<>(),;:\[\]]+@(?:{_DOMAIN_LABEL}\.)*{_DOMAIN_LABEL}")
_BOOL_TRUE = {"true", "yes", "on"}
_BOOL_FALSE = {"false", "no", "off"}


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    line: int  # 1-based
    message: str


class RoutingConfigError(ValueError):
    """A routing file that cannot be used; ``issues`` lists every problem with its line."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = sorted(issues, key=lambda i: i.line)
        super().__init__("\n".join(f"{source}:{i.line}: {i.message}" for i in self.issues))


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    route: Route
    receivers: Mapping[str, Receiver]
    inhibit_rules: tuple[InhibitRule, ...] = ()
    source: str = "<routing>"
    routes_by_id: Mapping[str, Route] = field(default_factory=dict)
    text: str = ""  # the file as read (Alertmanager's API shows it, secrets masked)

    def integrations(self, receiver: str) -> tuple[Integration, ...]:
        return self.receivers[receiver].integrations


class _RefusedError(Exception):
    """Internal: the node is bad; the issue is already recorded."""


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.issues: list[ConfigIssue] = []

    def refuse(self, node: Node, message: str) -> _RefusedError:
        self.issues.append(ConfigIssue(_line(node), message))
        return _RefusedError()

    # --- node helpers -------------------------------------------------------------------
    def mapping(self, node: Node, where: str, allowed: set[str]) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.refuse(node, f"{where} must be a mapping")
        result: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.refuse(key_node, f"{where}: keys must be plain strings")
            key = key_node.value
            if key in result:
                self.refuse(key_node, f"{where}: duplicate key {key!r}")
                continue
            if key not in allowed:
                self.refuse(
                    key_node,
                    f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})",
                )
                continue
            result[key] = (key_node, value_node)
        return result

    def sequence(self, node: Node, where: str) -> list[Node]:
        if not isinstance(node, SequenceNode):
            raise self.refuse(node, f"{where} must be a list")
        return list(node.value)

    def string(self, node: Node, where: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag.endswith((":null", ":bool")):
            raise self.refuse(node, f"{where} must be a string")
        if not node.value:
            raise self.refuse(node, f"{where} must not be empty")
        return str(node.value)

    def boolean(self, node: Node, where: str) -> bool:
        text = node.value.lower() if isinstance(node, ScalarNode) else None
        if text in _BOOL_TRUE:
            return True
        if text in _BOOL_FALSE:
            return False
        raise self.refuse(node, f"{where} must be true or false")

    def integer(self, node: Node, where: str, minimum: int = 0) -> int:
        if not isinstance(node, ScalarNode) or not node.tag.endswith(":int"):
            raise self.refuse(node, f"{where} must be an integer")
        # YAML 1.1 also tags 0x10, 0o17, 0b101, 1_000 and 1:30 as integers: decimal only here.
        if not _DECIMAL.fullmatch(node.value):
            raise self.refuse(node, f"{where} must be a decimal integer of at most 18 digits")
        value = int(node.value)
        if value < minimum:
            raise self.refuse(node, f"{where} must be at least {minimum}")
        return value

    def duration(self, node: Node, where: str) -> timedelta:
        text = self.string(node, where)
        try:
            return parse_duration(text)
        except DurationError as exc:
            raise self.refuse(node, f"{where}: {exc}") from exc

    def strings(self, node: Node, where: str) -> list[str]:
        if isinstance(node, ScalarNode) and not node.tag.endswith(":null"):
            return [self.string(node, where)]
        return [self.string(item, where) for item in self.sequence(node, where)]

    def matchers(self, node: Node, where: str) -> tuple[Matcher, ...]:
        result: list[Matcher] = []
        for item in self.sequence(node, where):
            text = self.string(item, where)
            try:
                result.extend(parse_matchers(text))
            except MatcherError as exc:
                self.refuse(item, f"{where}: {exc}")
        return tuple(result)

    def secret(self, node: Node, where: str) -> SecretRef:
        try:
            return SecretRef(self.string(node, where))
        except SecretRefError as exc:
            raise self.refuse(node, f"{where}: {exc}") from exc

    def url(self, node: Node, where: str) -> str:
        text = self.string(node, where)
        try:  # urlsplit raises on e.g. "http://[::1" (an unclosed IPv6 literal), as `.port` may
            parts = urlsplit(text)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port
        except ValueError:
            usable = False
        if not usable:
            raise self.refuse(node, f"{where}: {text!r} is not an http(s) URL with a host")
        return text

    def optional(
        self,
        fields: Mapping[str, tuple[Node, Node]],
        key: str,
        parse: Callable[[Node], T],
        default: T,
    ) -> T:
        if key not in fields:
            return default
        return parse(fields[key][1])

    # --- sections -----------------------------------------------------------------------
    def document(self, root: Node | None) -> RoutingConfig:
        if root is None:
            self.issues.append(
                ConfigIssue(1, "the file is empty: a route and receivers are required")
            )
            raise _RefusedError()
        top = self.mapping(root, "the file", _TOP_KEYS)
        receivers: dict[str, Receiver] = {}
        if "receivers" in top:
            receivers = self.receivers(top["receivers"][1])
        else:
            self.refuse(root, "no receivers: at least one receiver is required")
        if "route" not in top:
            raise self.refuse(root, "no route: the root route is required")
        route = self.route(top["route"][1], None, None, receivers, 0)
        rules: tuple[InhibitRule, ...] = ()
        if "inhibit_rules" in top:
            rules = tuple(
                rule
                for item in self.sequence(top["inhibit_rules"][1], "inhibit_rules")
                if (rule := self.guard(self.inhibit_rule, item)) is not None
            )
        if route is None:
            raise _RefusedError()
        by_id = {r.id: r for r in route.walk()}
        return RoutingConfig(route, receivers, rules, self.source, by_id)

    def guard(self, parse: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        try:
            return parse(*args, **kwargs)
        except _RefusedError:
            return None

    def route(
        self,
        node: Node,
        parent: Route | None,
        parent_settings: RouteSettings | None,
        receivers: Mapping[str, Receiver],
        position: int,
    ) -> Route | None:
        where = "route" if parent_settings is None else "routes[]"
        try:
            fields = self.mapping(node, where, _ROUTE_KEYS)
        except _RefusedError:
            return None
        root = parent_settings is None
        receiver = parent_settings.receiver if parent_settings else ""
        if "receiver" in fields:
            name_node = fields["receiver"][1]
            receiver = self.guard(lambda: self.string(name_node, f"{where}.receiver")) or ""
            if receiver and receiver not in receivers:
                self.refuse(name_node, f"{where}.receiver: unknown receiver {receiver!r}")
        elif root:
            self.refuse(node, "the root route needs a receiver")
        matchers: tuple[Matcher, ...] = ()
        if "matchers" in fields:
            key_node, value_node = fields["matchers"]
            matchers = self.guard(lambda: self.matchers(value_node, f"{where}.matchers")) or ()
            if root:
                self.refuse(
                    key_node, "the root route must not have matchers: it matches every alert"
                )
        continue_ = False
        if "continue" in fields:
            key_node, value_node = fields["continue"]
            continue_ = bool(self.guard(lambda: self.boolean(value_node, f"{where}.continue")))
            if root and continue_:
                self.refuse(key_node, "the root route cannot have continue")
        base = parent_settings or RouteSettings(receiver="")
        group_by, group_by_all = base.group_by, base.group_by_all
        if "group_by" in fields:
            parsed = self.guard(lambda: self.group_by(fields["group_by"][1], where))
            if parsed is not None:
                group_by, group_by_all = parsed
        timings = self.timings(fields, where)
        settings = RouteSettings(
            receiver=receiver,
            group_by=group_by,
            group_by_all=group_by_all,
            group_wait=timings.get("group_wait", base.group_wait),
            group_interval=timings.get("group_interval", base.group_interval),
            repeat_interval=timings.get("repeat_interval", base.repeat_interval),
        )
        key = route_key(parent.key if parent else None, matchers)
        route_id = key if parent is None else f"{key}/{position}"
        shell = Route(settings, matchers, continue_, (), key, route_id, _line(node))
        children: list[Route] = []
        if "routes" in fields:
            try:
                items = self.sequence(fields["routes"][1], f"{where}.routes")
            except _RefusedError:
                items = []
            for index, item in enumerate(items):
                child = self.route(item, shell, settings, receivers, index)
                if child is not None:
                    children.append(child)
        return Route(settings, matchers, continue_, tuple(children), key, route_id, _line(node))

    def timings(self, fields: Mapping[str, tuple[Node, Node]], where: str) -> dict[str, timedelta]:
        result: dict[str, timedelta] = {}
        for name in ("group_wait", "group_interval", "repeat_interval"):
            if name not in fields:
                continue
            node = fields[name][1]
            value = self.guard(self.duration, node, f"{where}.{name}")
            if value is None:
                continue
            if name != "group_wait" and value <= timedelta(0):
                self.refuse(node, f"{where}.{name} must be greater than zero")
                continue
            result[name] = value
        return result

    def group_by(self, node: Node, where: str) -> tuple[tuple[str, ...], bool]:
        names = self.strings(node, f"{where}.group_by")
        if "..." in names:
            if len(names) != 1:
                raise self.refuse(node, f"{where}.group_by: '...' must be the only entry")
            return (), True
        for name in names:
            if not LABEL_NAME.match(name):
                raise self.refuse(node, f"{where}.group_by: bad label name {name!r}")
        if len(set(names)) != len(names):
            raise self.refuse(node, f"{where}.group_by: duplicate label names")
        return tuple(names), False

    def receivers(self, node: Node) -> dict[str, Receiver]:
        result: dict[str, Receiver] = {}
        try:
            items = self.sequence(node, "receivers")
        except _RefusedError:
            return result
        for item in items:
            receiver = self.guard(self.receiver, item)
            if receiver is None:
                continue
            if receiver.name in result:
                self.refuse(item, f"duplicate receiver name {receiver.name!r}")
                continue
            result[receiver.name] = receiver
        return result

    def receiver(self, node: Node) -> Receiver:
        fields = self.mapping(node, "receivers[]", {"name", *_CONFIG_PARSERS})
        if "name" not in fields:
            raise self.refuse(node, "receivers[]: a receiver needs a name")
        name = self.string(fields["name"][1], "receivers[].name")
        integrations: list[Integration] = []
        for key, parse in _CONFIG_PARSERS.items():
            if key not in fields:
                continue
            for index, item in enumerate(self.sequence(fields[key][1], f"{name}.{key}")):
                config = self.guard(parse, self, item, f"{name}.{key}[]")
                if config is not None:
                    integrations.append(Integration(name, index, config, _line(item)))
        return Receiver(name, tuple(integrations))

    def url_or_ref(
        self, f: Mapping[str, tuple[Node, Node]], node: Node, where: str
    ) -> tuple[str | None, SecretRef | None]:
        """An endpoint given either as `url` or as `url_ref` (a secret), never both."""
        url = self.optional(f, "url", lambda n: self.url(n, f"{where}.url"), None)
        url_ref = self.optional(f, "url_ref", lambda n: self.secret(n, f"{where}.url_ref"), None)
        if (url is None) == (url_ref is None):
            raise self.refuse(node, f"{where}: give exactly one of url and url_ref")
        return url, url_ref

    def webhook(self, node: Node, where: str) -> WebhookConfig:
        keys = {"url", "url_ref", "secret", "allow_private", "send_resolved", "max_alerts"}
        f = self.mapping(node, where, keys)
        url, url_ref = self.url_or_ref(f, node, where)
        return WebhookConfig(
            url=url,
            url_ref=url_ref,
            secret=self.optional(f, "secret", lambda n: self.secret(n, f"{where}.secret"), None),
            allow_private=self.optional(
                f, "allow_private", lambda n: self.boolean(n, where), False
            ),
            send_resolved=self.optional(f, "send_resolved", lambda n: self.boolean(n, where), True),
            max_alerts=self.optional(
                f, "max_alerts", lambda n: self.integer(n, f"{where}.max_alerts"), 0
            ),
        )

    def email(self, node: Node, where: str) -> EmailConfig:
        f = self.mapping(node, where, {"to", "from", "send_resolved", "html"})
        for required in ("to", "from"):
            if required not in f:
                raise self.refuse(node, f"{where}: {required!r} is required")
        to = tuple(self.strings(f["to"][1], f"{where}.to"))
        for address in (*to, self.string(f["from"][1], f"{where}.from")):
            if not _EMAIL.fullmatch(address):
                raise self.refuse(node, f"{where}: {address!r} is not an e-mail address")
        return EmailConfig(
            to=to,
            sender=self.string(f["from"][1], f"{where}.from"),
            send_resolved=self.optional(
                f, "send_resolved", lambda n: self.boolean(n, where), False
            ),
            html=self.optional(f, "html", lambda n: self.boolean(n, f"{where}.html"), True),
        )

    def kafka(self, node: Node, where: str) -> KafkaConfig:
        f = self.mapping(node, where, {"topic", "send_resolved"})
        if "topic" not in f:
            raise self.refuse(node, f"{where}: 'topic' is required")
        return KafkaConfig(
            topic=self.string(f["topic"][1], f"{where}.topic"),
            send_resolved=self.optional(f, "send_resolved", lambda n: self.boolean(n, where), True),
        )

    def wecom(self, node: Node, where: str) -> WecomConfig:
        f = self.mapping(node, where, {"url_ref", "key_ref", "allow_private", "send_resolved"})
        url_ref = self.optional(f, "url_ref", lambda n: self.secret(n, f"{where}.url_ref"), None)
        key_ref = self.optional(f, "key_ref", lambda n: self.secret(n, f"{where}.key_ref"), None)
        if (url_ref is None) == (key_ref is None):
            raise self.refuse(node, f"{where}: give exactly one of url_ref and key_ref")
        return WecomConfig(
            url_ref=url_ref,
            key_ref=key_ref,
            allow_private=self.optional(
                f, "allow_private", lambda n: self.boolean(n, where), False
            ),
            send_resolved=self.optional(f, "send_resolved", lambda n: self.boolean(n, where), True),
        )

    def dingtalk(self, node: Node, where: str) -> DingtalkConfig:
        keys = {"url", "url_ref", "secret", "allow_private", "send_resolved"}
        f = self.mapping(node, where, keys)
        url, url_ref = self.url_or_ref(f, node, where)
        return DingtalkConfig(
            url=url,
            url_ref=url_ref,
            secret=self.optional(f, "secret", lambda n: self.secret(n, f"{where}.secret"), None),
            allow_private=self.optional(
                f, "allow_private", lambda n: self.boolean(n, where), False
            ),
            send_resolved=self.optional(f, "send_resolved", lambda n: self.boolean(n, where), True),
        )

    def inhibit_rule(self, node: Node) -> InhibitRule:
        where = "inhibit_rules[]"
        f = self.mapping(node, where, _INHIBIT_KEYS)
        for required in ("source_matchers", "target_matchers"):
            if required not in f:
                raise self.refuse(node, f"{where}: {required!r} is required")
        equal: tuple[str, ...] = ()
        if "equal" in f:
            equal = tuple(self.strings(f["equal"][1], f"{where}.equal"))
        for name in equal:
            if not LABEL_NAME.match(name):
                raise self.refuse(f["equal"][1], f"{where}.equal: bad label name {name!r}")
        return InhibitRule(
            source_matchers=self.matchers(f["source_matchers"][1], f"{where}.source_matchers"),
            target_matchers=self.matchers(f["target_matchers"][1], f"{where}.target_matchers"),
            equal=equal,
            name=self.optional(f, "name", lambda n: self.string(n, f"{where}.name"), ""),
        )


_CONFIG_PARSERS: dict[str, Callable[[_Parser, Node, str], IntegrationConfig]] = {
    "webhook_configs": _Parser.webhook,
    "email_configs": _Parser.email,
    "kafka_configs": _Parser.kafka,
    "wecom_configs": _Parser.wecom,
    "dingtalk_configs": _Parser.dingtalk,
}


def _shape_issue(root: Node) -> ConfigIssue | None:
    """The first breach of MAX_NESTING or MAX_NODES, walking the tree (aliases expanded)
    without recursion."""
    stack: list[tuple[Node, int]] = [(root, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return ConfigIssue(_line(node), f"more than {MAX_NODES} YAML nodes (aliases expanded)")
        if depth > MAX_NESTING:
            return ConfigIssue(_line(node), f"nested deeper than {MAX_NESTING} levels")
        if isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend(((key, depth + 1), (value, depth + 1)))
    return None


def _flow_depth_issue(text: str) -> ConfigIssue | None:
    """Flow collections (`[`, `{`) opened deeper than MAX_NESTING, counted on the raw text
    before YAML reads it: PyYAML's scanner takes quadratic time in that depth (2,000 `[` cost
    a second) before its composer runs out of stack."""
    depth = 0
    for index, char in enumerate(text):
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, index) + 1
                return ConfigIssue(line, f"nested deeper than {MAX_NESTING} levels")
        elif char in "]}" and depth > 0:
            depth -= 1
    return None


def _compose(text: str, source: str) -> Node | None:
    """The YAML node tree; RoutingConfigError for anything that is not YAML or too deep."""
    if (issue := _flow_depth_issue(text)) is not None:
        raise RoutingConfigError(source, [issue])
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise RoutingConfigError(source, [ConfigIssue(line, f"not YAML: {exc.problem}")]) from exc
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, controls)
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character
        code = char if isinstance(char, int) else ord(char)
        issue = ConfigIssue(line, f"not YAML: character #x{code:04x}: {exc.reason}")
        raise RoutingConfigError(source, [issue]) from exc
    except yaml.YAMLError as exc:
        raise RoutingConfigError(source, [ConfigIssue(1, f"not YAML: {exc}")]) from exc
    except RecursionError:  # the YAML composer recurses per level: far beyond MAX_NESTING
        issue = ConfigIssue(1, f"nested deeper than {MAX_NESTING} levels")
        raise RoutingConfigError(source, [issue]) from None


def load_routing(text: str, source: str = "<routing>") -> RoutingConfig:
    """Parse a routing file's text; refuse it with every problem and its line."""
    parser = _Parser(source)
    root = _compose(text, source)
    if root is not None and (issue := _shape_issue(root)) is not None:
        raise RoutingConfigError(source, [issue])
    try:
        config = parser.document(root)
    except _RefusedError:
        config = None
    if parser.issues or config is None:
        raise RoutingConfigError(source, parser.issues)
    return replace(config, text=text)
