"""The routing file: an Alertmanager-compatible subset (``route``, ``receivers``,
``inhibit_rules``) plus receiver types of our own. Read as YAML with the line of every value
(`routing_yaml`), validated by pydantic models (`routing_schema`), each of pydantic's errors
reported as `file:line: reason` on the line of the key or value it is about."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from services.notify.domain.config_issues import ConfigIssue, RoutingConfigError
from services.notify.domain.inhibit import InhibitRule
from services.notify.domain.matchers import Matcher
from services.notify.domain.receivers import Integration, Receiver
from services.notify.domain.routing import EscalationStep, Route, RouteSettings, route_key
from services.notify.domain.routing_schema import (
    ReceiverSpec,
    RouteSpec,
    RoutingFileSpec,
    validate_routing,
)
from services.notify.domain.routing_yaml import Path, Scalar, YamlTree, read_yaml

__all__ = ["ConfigIssue", "RoutingConfig", "RoutingConfigError", "load_routing"]

T = TypeVar("T")
_PLAIN_NAME = re.compile(r"[\w.-]+")  # a receiver name that can head a message as it is


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


def load_routing(text: str, source: str = "<routing>") -> RoutingConfig:
    """Parse a routing file's text; refuse it with every problem and its line."""
    tree = read_yaml(text, source)
    if tree.data is None:
        issue = ConfigIssue(1, "the file is empty: a route and receivers are required")
        raise RoutingConfigError(source, [issue])
    try:
        spec = validate_routing(tree.data)
    except ValidationError as exc:
        issues = [_issue(error, tree) for error in exc.errors(include_url=False)]
        raise RoutingConfigError(source, [*tree.issues, *issues]) from None
    if tree.issues:
        raise RoutingConfigError(source, tree.issues)
    route = _route(spec.route, ("route",), tree, parent=RouteSettings(receiver=""), parent_key=None)
    receivers = (_receiver(r, ("receivers", i), tree) for i, r in enumerate(spec.receivers))
    return RoutingConfig(
        route=route,
        receivers={receiver.name: receiver for receiver in receivers},
        inhibit_rules=tuple(
            InhibitRule(_flat(r.source_matchers), _flat(r.target_matchers), tuple(r.equal), r.name)
            for r in spec.inhibit_rules
        ),
        source=source,
        routes_by_id={r.id: r for r in route.walk()},
        text=text,
    )


# --- the validated file as the domain's routes and receivers ---------------------------------


def _flat(items: list[tuple[Matcher, ...]]) -> tuple[Matcher, ...]:
    return tuple(matcher for item in items for matcher in item)


def _own(value: T | None, inherited: T) -> T:
    return inherited if value is None else value


def _route(
    spec: RouteSpec, path: Path, tree: YamlTree, *, parent: RouteSettings, parent_key: str | None
) -> Route:
    """The route with its settings inherited from `parent` where unset, and its children; a
    child's id is its key and its position under the parent (the last part of its path)."""
    group_by, group_by_all = parent.group_by, parent.group_by_all
    if spec.group_by is not None:
        group_by_all = spec.group_by == ["..."]
        group_by = () if group_by_all else tuple(spec.group_by)
    settings = RouteSettings(
        receiver=spec.receiver or parent.receiver,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=_own(spec.group_wait, parent.group_wait),
        group_interval=_own(spec.group_interval, parent.group_interval),
        repeat_interval=_own(spec.repeat_interval, parent.repeat_interval),
        escalation=parent.escalation
        if spec.escalation is None
        else tuple(EscalationStep(s.after, s.receiver) for s in spec.escalation),
    )
    matchers = _flat(spec.matchers)
    key = route_key(parent_key, matchers)
    children = tuple(
        _route(child, (*path, "routes", index), tree, parent=settings, parent_key=key)
        for index, child in enumerate(spec.routes)
    )
    route_id = key if parent_key is None else f"{key}/{path[-1]}"
    return Route(settings, matchers, spec.continue_, children, key, route_id, tree.lines[path])


def _receiver(spec: ReceiverSpec, path: Path, tree: YamlTree) -> Receiver:
    integrations = tuple(
        Integration(spec.name, index, entry.config(), tree.lines[(*path, key, index)])
        for key, entries in spec.integration_specs()
        for index, entry in enumerate(entries)
    )
    return Receiver(spec.name, integrations)


# --- pydantic's errors as `line: reason` ------------------------------------------------------


def _issue(error: ErrorDetails, tree: YamlTree) -> ConfigIssue:
    loc: Path = tuple(error["loc"])
    line = _line(tree, loc)
    where = loc
    match error["type"]:
        case "extra_forbidden":
            line = tree.key_lines.get(loc, line)
            where, reason = loc[:-1], f"unknown key {loc[-1]!r}{_allowed(loc[:-1])}"
        case "missing":
            where, reason = loc[:-1], f"{loc[-1]!r} is required"
        case "model_type" | "model_attributes_type" | "dict_type":
            reason = "must be a mapping"
        case "list_type":
            reason = "must be a list"
        case "value_error":  # our validators' ValueError: the reason itself
            reason = str(error.get("ctx", {}).get("error", error["msg"]))
        case _:
            reason = error["msg"]
    separator = " " if reason.startswith("must ") else ": "
    return ConfigIssue(line, f"{_name(where, tree.data)}{separator}{reason}")


def _line(tree: YamlTree, loc: Path) -> int:
    """The first line of loc's value, or of the nearest enclosing value (for a missing key,
    its mapping)."""
    for end in range(len(loc), -1, -1):
        if (line := tree.lines.get(loc[:end])) is not None:
            return line
    return 1


def _at(data: object, loc: Path) -> object:
    """The raw value at loc, None where there is none."""
    for part in loc:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _name(loc: Path, data: object) -> str:
    """loc as the file's user reads it: `route.group_wait`, `routes[].receiver` (a route below
    the root, at any depth), `ops.webhook_configs[].url` (in receiver `ops`), `route.matchers`
    (an entry of a list of values is named by its list)."""
    if not loc:
        return "the file"
    head, start = str(loc[0]), 1
    if loc[0] == "route":
        for end in range(len(loc) - 1, 0, -1):  # the last `routes, <index>`: the deepest route
            if loc[end - 1] == "routes" and isinstance(loc[end], int):
                head, start = "routes[]", end + 1
                break
    elif loc[0] == "receivers" and len(loc) > 2 and loc[2] != "name":
        receiver = _at(data, (*loc[:2], "name"))
        if isinstance(receiver, Scalar) and _PLAIN_NAME.fullmatch(receiver.text):
            head, start = receiver.text, 2
    name = head
    for end in range(start, len(loc)):
        if isinstance(part := loc[end], str):
            name += f".{part}"
        elif _model_at(loc[: end + 1]) is not None:
            name += "[]"
    return name


def _model_at(loc: Path) -> type[BaseModel] | None:
    """The model that validates the value at loc, found through the models' fields; None for
    a plain value."""
    model: object = RoutingFileSpec
    for part in loc:
        model = _bare(model)
        if isinstance(part, int):
            model = next(iter(get_args(model)), None)  # list[X]: X
        elif isinstance(model, type) and issubclass(model, BaseModel):
            fields = {f.alias or name: f.annotation for name, f in model.model_fields.items()}
            model = fields.get(part)
        else:
            return None
    model = _bare(model)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _bare(annotation: object) -> object:
    """`Annotated[X, ...]` and `X | None` as X."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
        elif get_origin(annotation) in (Union, UnionType):
            annotation = next(a for a in get_args(annotation) if a is not type(None))
        else:
            return annotation


def _allowed(loc: Path) -> str:
    """` (allowed: ...)`: the keys of the mapping at loc."""
    if (model := _model_at(loc)) is None:
        return ""
    keys = sorted(f.alias or name for name, f in model.model_fields.items())
    return f" (allowed: {', '.join(keys)})"
