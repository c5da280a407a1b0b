"""What the demo says of problems raised and followed: the alerts the coordinator's own
receiver (`demo-coordinator` in routing.demo.yaml) got, by name and status, and whether every
problem the feed leaves open has reached it (the demo waits for that before it ends)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Final

from planwatch.demo.receivers import WebhookPost
from planwatch.simulate.scenario import Role, Scenario
from shared.contract.events import ProblemClosed, ProblemRaised, ProblemResolved

COORDINATOR_RECEIVER: Final = "demo-coordinator"
PROBLEM_RAISED: Final = "problem_raised"


def coordinator_alerts(posts: Iterable[WebhookPost]) -> Counter[str]:
    """`<alertname> <status>` -> how many the coordinator's receiver got."""
    return Counter(
        f"{alert.alertname} {alert.status}"
        for post in posts
        if post.receiver == COORDINATOR_RECEIVER
        for alert in post.alerts
    )


def coordinator_line(posts: Iterable[WebhookPost]) -> str:
    """One line of the demo's summary."""
    got = coordinator_alerts(posts)
    if not got:
        return f"problems: nothing reached the coordinator's receiver ({COORDINATOR_RECEIVER})"
    listed = ", ".join(f"{name} {n}" for name, n in sorted(got.items()))
    return f"problems: the coordinator's receiver ({COORDINATOR_RECEIVER}) got {listed}"


def raised_at_coordinator(posts: Iterable[WebhookPost]) -> set[str]:
    """The problems whose problem_raised (firing) reached the coordinator's receiver."""
    found: set[str] = set()
    for post in posts:
        if post.receiver != COORDINATOR_RECEIVER:
            continue
        try:
            alerts = json.loads(post.body).get("alerts", [])
        except ValueError:
            continue
        for alert in alerts:
            labels = alert.get("labels", {})
            if labels.get("alertname") == PROBLEM_RAISED and alert.get("status") == "firing":
                found.add(str(labels.get("problem")))
    return found


def open_at_end(scenario: Scenario) -> frozenset[str]:
    """The problems the feed raises and does not resolve or close."""
    raised: set[str] = set()
    ended: set[str] = set()
    for item in scenario.of_role(Role.PROBLEM):
        payload = item.payload
        if isinstance(payload, ProblemRaised):
            raised.add(payload.data.problem_id)
        elif isinstance(payload, ProblemResolved | ProblemClosed):
            ended.add(payload.data.problem_id)
    return frozenset(raised - ended)
