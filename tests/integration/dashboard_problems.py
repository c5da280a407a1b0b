"""What the live-dashboard test checks of problems raised and followed (issue #17): accepted
problem records put on the accepted topic as ingest passes them on, the read API folding them,
and the page's coordinator list, per-agency table and target cards showing them, each with its
history opened by keyboard; hostile text shown as text.

Every wait is for a condition, bounded (Playwright's timeout, or `within_s`).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.accepted_problem import AcceptedProblemEvent
from shared.domain.catalog import Plan
from shared.domain.problems import ProblemAction, SubjectKind

HOSTILE = '<img src=x onerror="alert(1)"> 站址 & "审批"'


@dataclass(frozen=True)
class Expected:
    open: dict[str, tuple[str, bool]]  # problem id -> (state, overdue) of the open ones
    on_card: dict[str, set[str]]  # target id -> every problem on it
    raiser: str
    steps: int  # the history of the acknowledged problem (`OPEN_ID`)


OPEN_ID, OVERDUE_ID, ENDED_ID = "dash-open", "dash-overdue", "dash-ended"


def _record(
    plan: Plan,
    problem_id: str,
    target_id: str,
    action: ProblemAction,
    at: datetime,
    agency: str,
    n: int,
    **fields: Any,
) -> AcceptedProblemEvent:
    event_id = f"{problem_id}-{n}"
    return AcceptedProblemEvent(
        event_id=event_id,
        action=action,
        plan=plan.id,
        problem_id=problem_id,
        subject=target_id,
        subject_kind=SubjectKind.TARGET,
        task=plan.targets[target_id].task,
        agency=agency,
        reported_at=at,
        received_at=at.astimezone(UTC) + timedelta(milliseconds=250),
        key_id=f"{agency}-k1",
        content_hash=hashlib.sha256(event_id.encode()).hexdigest(),
        **fields,
    )


def problem_records(plan: Plan, last: datetime) -> tuple[list[AcceptedProblemEvent], Expected]:
    """Three problems, all before the service clock `last` (so it does not move): one raised
    3 days before, acknowledged and commented (hostile text); one raised 30 days before and
    left open (overdue); one raised and resolved (on its card only)."""
    first = sorted(plan.targets)[0]
    raiser = plan.targets[first].lead
    second = next(t for t in sorted(plan.targets) if plan.targets[t].lead != raiser)
    other = plan.targets[second].lead
    coordinator = plan.coordinator
    raised = {"summary": HOSTILE, "needs": HOSTILE, "from_agencies": (coordinator,)}
    records = [
        _record(plan, OPEN_ID, first, ProblemAction.RAISED, last - timedelta(days=3), raiser, 1,
                **raised),
        _record(plan, OPEN_ID, first, ProblemAction.ACKNOWLEDGED, last - timedelta(days=2),
                coordinator, 2),
        _record(plan, OPEN_ID, first, ProblemAction.COMMENTED, last - timedelta(days=1),
                coordinator, 3, note=HOSTILE),
        _record(plan, OVERDUE_ID, second, ProblemAction.RAISED, last - timedelta(days=30), other,
                1, summary="approvals stalled", needs="a decision", from_agencies=(raiser,)),
        _record(plan, ENDED_ID, first, ProblemAction.RAISED, last - timedelta(days=20), raiser, 1,
                summary="data late", needs="a reminder", from_agencies=(coordinator,)),
        _record(plan, ENDED_ID, first, ProblemAction.RESOLVED, last - timedelta(days=10),
                coordinator, 2, note="sent"),
    ]  # fmt: skip
    expected = Expected(
        open={OPEN_ID: ("acknowledged", False), OVERDUE_ID: ("open", True)},
        on_card={first: {OPEN_ID, ENDED_ID}, second: {OVERDUE_ID}},
        raiser=raiser,
        steps=3,
    )
    return records, expected


async def problems_folded(
    client: httpx.AsyncClient, plan: Plan, expected: Expected, within_s: float = 90.0
) -> dict[str, Any]:
    """The read API's list once it shows the expected open problems (states, overdue)."""
    async with asyncio.timeout(within_s):
        while True:
            response = await client.get(f"/v1/plans/{plan.id}/problems")
            if response.status_code == 200:
                found: dict[str, Any] = response.json()
                states = {
                    p["problem_id"]: (p["state"], p["overdue"])
                    for p in found["problems"]
                    if p["state"] in ("open", "acknowledged")
                }
                if states == expected.open and found["count"] == 3:
                    return found
            await asyncio.sleep(0.5)


async def check_problems_download(client: httpx.AsyncClient, plan: Plan) -> None:
    """The problems' CSV lists every problem the API lists (all three, ended one included)."""
    answer = await client.get(f"/dashboard/api/plans/{plan.id}/problems.csv")
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert sorted(r[0] for r in rows[1:]) == sorted((ENDED_ID, OPEN_ID, OVERDUE_ID))


async def check_problems_on_page(page: Any, expected: Expected) -> None:
    """The coordinator's list, the by-agency table and the cards say what the API says;
    hostile text is text."""
    wanted = len(expected.open)
    await page.wait_for_function(
        f"document.querySelectorAll('#problems tr.problem').length === {wanted}", timeout=30_000
    )
    rows = await page.eval_on_selector_all(
        "#problems tr.problem",
        """els => els.map(e => [e.dataset.problem, e.dataset.state, e.dataset.overdue,
                              e.querySelectorAll('img').length])""",
    )
    assert {r[0]: (r[1], r[2] == "true") for r in rows} == expected.open
    assert all(r[3] == 0 for r in rows)
    summary = await page.inner_text(f'#problems tr.problem[data-problem="{OPEN_ID}"] .summary')
    assert summary == HOSTILE
    overdue = await page.eval_on_selector_all(
        "#problems tr.problem .badge.overdue",
        "els => els.map(e => e.closest('tr').dataset.problem)",
    )
    assert overdue == [OVERDUE_ID]
    agencies = await page.eval_on_selector_all(
        "#problems tr.problem-agency", "els => els.map(e => [e.dataset.agency, e.dataset.raised])"
    )
    assert [expected.raiser, "1"] in agencies
    cards = await page.eval_on_selector_all(
        "article.card li.problem",
        "els => els.map(e => [e.closest('article').dataset.target, e.dataset.problem])",
    )
    on_card: dict[str, set[str]] = {}
    for target, problem in cards:
        on_card.setdefault(target, set()).add(problem)
    assert on_card == expected.on_card
    links = await page.eval_on_selector_all(
        '#problems-exports a.export[data-table="problems"]', "els => els.map(e => e.dataset.format)"
    )
    assert links == ["csv", "xlsx"]


async def open_history_by_keyboard(page: Any, expected: Expected) -> None:
    """Enter on a problem's history button shows its steps (the note as text); the button
    keeps focus through the re-render."""
    toggle = f'#problems tr.problem[data-problem="{OPEN_ID}"] button.problem-toggle'
    await page.focus(toggle)
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        f"""() => document.querySelector('{toggle}').getAttribute('aria-expanded') === 'true'
            && document.getElementById(document.querySelector('{toggle}')
                   .getAttribute('aria-controls')).getClientRects().length > 0"""
    )
    assert await page.evaluate(f"() => document.activeElement.matches('{toggle}')")
    steps = await page.eval_on_selector_all(
        f'#problems tr.problem[data-problem="{OPEN_ID}"] li.step',
        "els => els.map(e => [e.dataset.action, (e.querySelector('.note') || {}).textContent])",
    )
    assert [s[0] for s in steps] == ["raised", "acknowledged", "commented"]
    assert steps[2][1] == HOSTILE and len(steps) == expected.steps
