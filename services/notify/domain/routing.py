"""The routing tree (Alertmanager's ``route``) and matching an alert's labels against it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

from services.notify.domain.matchers import Matcher, matchers_key, matches_all

DEFAULT_GROUP_WAIT = timedelta(seconds=30)
DEFAULT_GROUP_INTERVAL = timedelta(minutes=5)
DEFAULT_REPEAT_INTERVAL = timedelta(hours=4)


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """A level of a route's escalation chain: an alert firing `after` since it started and
    acknowledged by no one on the chain is sent to `receiver` (domain/escalation.py)."""

    after: timedelta
    receiver: str


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """A route's effective settings, after inheritance from its ancestors."""

    receiver: str
    group_by: tuple[str, ...] = ()
    group_by_all: bool = False  # group_by: ['...']
    group_wait: timedelta = DEFAULT_GROUP_WAIT
    group_interval: timedelta = DEFAULT_GROUP_INTERVAL
    repeat_interval: timedelta = DEFAULT_REPEAT_INTERVAL
    escalation: tuple[EscalationStep, ...] = ()  # after increasing


@dataclass(frozen=True, slots=True)
class Route:
    """A node of the routing tree. ``key`` is Alertmanager's route key (the matcher chain
    from the root, not unique among siblings with equal matchers); ``id`` adds the position
    under the parent and is unique."""

    settings: RouteSettings
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    key: str = "{}"
    id: str = "{}"
    line: int = 0  # where the route starts in its file, for messages

    @property
    def receiver(self) -> str:
        return self.settings.receiver

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)

    def walk(self) -> Iterator[Route]:
        """Depth-first, the node before its children."""
        yield self
        for child in self.routes:
            yield from child.walk()


def route_key(parent_key: str | None, matchers: tuple[Matcher, ...]) -> str:
    own = matchers_key(matchers)
    return own if parent_key is None else f"{parent_key}/{own}"


def match_routes(tree: Route, labels: Mapping[str, str]) -> list[Route]:
    """The routes an alert with ``labels`` goes to, as Alertmanager's ``Route.Match``.

    Depth-first, left to right: a node that does not match yields nothing; among its
    children the first match stops the search unless that child has ``continue``; a node
    none of whose children match is itself the match.
    """
    if not tree.matches(labels):
        return []
    found: list[Route] = []
    for child in tree.routes:
        matches = match_routes(child, labels)
        found.extend(matches)
        if matches and not child.continue_:
            break
    return found or [tree]
