"""The demo's terminal view: a rich Live panel on a TTY, plain progress lines otherwise."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from planwatch.demo.observe import ScoringSnapshot
from planwatch.demo.receivers import ReceivedMail, WebhookPost
from planwatch.simulate.feed import FeedProgress

STATUS_ORDER: Final = (
    "ACHIEVED",
    "ON_TRACK",
    "INSUFFICIENT_DATA",
    "AT_RISK",
    "OFF_TRACK",
    "DETERIORATING",
    "MISSED",
    "NO_DATA",
)
STATUS_STYLE: Final = {
    "ACHIEVED": "bold green",
    "ON_TRACK": "green",
    "INSUFFICIENT_DATA": "dim",
    "AT_RISK": "yellow",
    "OFF_TRACK": "dark_orange",
    "DETERIORATING": "red",
    "MISSED": "bold red",
    "NO_DATA": "dim",
}
LATEST_ALERTS: Final = 8


@dataclass
class DemoView:
    """Everything the view shows; the demo's loop updates it."""

    phase: str = "starting"
    started: float = field(default_factory=time.monotonic)
    progress: FeedProgress | None = None
    scoring: ScoringSnapshot = field(default_factory=ScoringSnapshot)
    posts: list[WebhookPost] = field(default_factory=list)
    mails: list[ReceivedMail] = field(default_factory=list)
    dead_letters: Counter[str] = field(default_factory=Counter)
    published: int = 0  # notifications on the notifications topic (notify's Kafka receiver)
    notes: list[str] = field(default_factory=list)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def alerts(self) -> list[tuple[WebhookPost, str, str, str, str]]:
        """(post, status, alertname, target, severity), latest first."""
        rows = [
            (post, alert.status, alert.alertname, alert.target, alert.severity)
            for post in self.posts
            for alert in post.alerts
        ]
        return rows[::-1]


def _sim_day(progress: FeedProgress | None) -> str:
    if progress is None or progress.sim_at is None:
        return "-"
    return progress.sim_at.date().isoformat()


def status_counts_text(statuses: Counter[str]) -> Text:
    text = Text()
    for status in STATUS_ORDER:
        if statuses.get(status):
            text.append(f"{status} {statuses[status]}  ", style=STATUS_STYLE[status])
    return text


def render(view: DemoView) -> RenderableType:
    progress = view.progress
    head = Text()
    head.append(f"{view.phase}", style="bold")
    head.append(f" · day {_sim_day(progress)}")
    if progress is not None:
        head.append(f" · {progress.sent}/{progress.total} sent ({progress.reports} by agencies)")
    head.append(f" · {view.elapsed:.0f} s")

    targets = Table(expand=True, show_edge=False, box=None, pad_edge=False)
    targets.add_column("status", no_wrap=True, width=17)
    targets.add_column("n", justify="right", width=3)
    targets.add_column("targets", ratio=1)
    by_status: dict[str, list[str]] = {}
    for target, status in sorted(view.scoring.statuses.items()):
        by_status.setdefault(status, []).append(target)
    for status in STATUS_ORDER:
        if status in by_status:
            style = STATUS_STYLE[status]
            names = ", ".join(by_status[status])
            targets.add_row(
                Text(status, style=style), str(len(by_status[status])), Text(names, style="dim")
            )
    scoring_title = f"targets by status · scoring clock {(view.scoring.clock or '-')[:10]}"
    if view.scoring.error:
        scoring_title += f" — {view.scoring.error}"

    alerts = Table(expand=True, show_edge=False, box=None, pad_edge=False)
    alerts.add_column("time", no_wrap=True, width=8)
    alerts.add_column("", no_wrap=True, width=8)
    alerts.add_column("alert", no_wrap=True, width=16)
    alerts.add_column("target", no_wrap=True, ratio=1)
    alerts.add_column("severity", no_wrap=True, width=8)
    alerts.add_column("sig", no_wrap=True, width=3)
    for post, status, name, target, severity in view.alerts()[:LATEST_ALERTS]:
        received = datetime.fromtimestamp(post.received_at).strftime("%H:%M:%S")
        alerts.add_row(
            received,
            Text(status, style="red" if status == "firing" else "green"),
            name,
            target,
            severity,
            Text("ok", style="green") if post.verified else Text("BAD", style="bold red"),
        )
    delivered = sum(len(p.alerts) for p in view.posts)
    alerts_title = (
        f"alerts at the local webhook: {delivered} in {len(view.posts)} posts · "
        f"e-mails: {len(view.mails)} · on Kafka: {view.published}"
    )
    footer = Text(
        f"dead letters: {sum(view.dead_letters.values())} "
        + (
            "(" + ", ".join(f"{k} {v}" for k, v in sorted(view.dead_letters.items())) + ")"
            if view.dead_letters
            else ""
        ),
        style="dim",
    )
    parts: list[RenderableType] = [
        head,
        Panel(targets, title=scoring_title, title_align="left"),
        Panel(alerts, title=alerts_title, title_align="left"),
        footer,
    ]
    if progress is not None and progress.last:
        parts.insert(1, Text(f"last: {progress.last}", style="dim"))
    parts += [Text(note, style="yellow") for note in view.notes[-3:]]
    return Panel(Group(*parts), title="planwatch demo", title_align="left")


def plain_line(view: DemoView) -> str:
    """One line for logs (no TTY)."""
    progress = view.progress
    sent = f"{progress.sent}/{progress.total}" if progress is not None else "-"
    statuses = view.scoring.by_status()
    scored = " ".join(f"{s}={statuses[s]}" for s in STATUS_ORDER if statuses.get(s)) or "-"
    return (
        f"[{view.elapsed:5.0f}s] {view.phase}: day {_sim_day(progress)}, sent {sent}; "
        f"scored {scored}; alerts {sum(len(p.alerts) for p in view.posts)} in "
        f"{len(view.posts)} posts; e-mails {len(view.mails)}; on Kafka {view.published}; "
        f"dead letters {sum(view.dead_letters.values())}"
    )
