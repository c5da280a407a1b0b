"""One agency's report (`planwatch report --agency ID`), cut from the plan's `ReportData`.

Its scorecard is the plan state's agency roll-up (method v1.1, `agency_scorecards`: the
targets it leads and those it co-owns, separately), its targets are the plan's results for
them, its alerts the plan's firing alerts and period transitions on them: every figure is the
plan report's, so `planwatch score` prints the same for the same events and day.

HOOK, open problems: `problems` is where the problems feature (problems raised by agencies,
acknowledged and resolved) hands the agency's open problems to the report, anything with the
attributes of `OpenProblem` (its `Problem` has them). None means the report was given no
problem data and says nothing about problems; a tuple, even empty, is shown as the agency's
open problems. Choosing which problems are the agency's and open is the feature's part: the
report command hands those that concern the agency (planwatch/report/problems.py) open at the
day and those that ended in the period, and the section shows them apart by state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from planwatch.report.model import PeriodTransition, ReportData
from shared.domain.method_v1 import AgencyScorecard, FiringAlert


class OpenProblem(Protocol):
    """HOOK: what the report shows of one open problem."""

    @property
    def problem_id(self) -> str: ...
    @property
    def subject(self) -> str: ...  # the target, deliverable, indicator or task it is on
    @property
    def state(self) -> str: ...  # open or acknowledged
    @property
    def raised_by(self) -> str: ...  # the agency's id
    @property
    def raised_at(self) -> datetime: ...


class UnknownAgencyError(ValueError):
    """The plan has no agency of that id."""


@dataclass(frozen=True, slots=True)
class AgencyReport:
    data: ReportData  # the whole plan's report data at the same day
    agency: str
    card: AgencyScorecard  # data.state.agencies[agency]
    led: tuple[str, ...]  # the targets it leads, by id
    co_owned: tuple[str, ...]  # the targets it co-owns (never one it leads), by id
    commitments: tuple[str, ...]  # the commitments it leads, by (task, id)
    alerts: tuple[FiringAlert, ...]  # firing at the day on its targets, in the state's order
    transitions: tuple[PeriodTransition, ...]  # the period's, on its targets
    # --- HOOK: open problems (the problems feature fills this; see the module's doc) ---
    problems: tuple[OpenProblem, ...] | None = None

    @property
    def targets(self) -> tuple[str, ...]:
        return (*self.led, *self.co_owned)

    def agency_json(self) -> dict[str, Any]:
        """What the report embeds: the agency's part of `plan_state_to_json` (what `planwatch
        score --format json` prints), as it is there."""
        state = self.data.state_json
        mine = set(self.targets)
        return {
            "method": state["method"],
            "plan": state["plan"],
            "at": state["at"],
            "agency": self.agency,
            "scorecard": state["agencies"][self.agency],
            "led": list(self.led),
            "co": list(self.co_owned),
            "targets": {tid: state["targets"][tid] for tid in self.targets},
            "alerts": [a for a in state["alerts"] if a["target"] in mine],
        }


def known_agencies(data: ReportData) -> list[str]:
    return sorted(set(data.plan.agencies) | set(data.state.agencies))


def agency_report(
    data: ReportData, agency: str, problems: Sequence[OpenProblem] | None = None
) -> AgencyReport:
    """The report of `agency` (UnknownAgencyError when the plan has no such agency).
    `problems`: the open problems to show, when the problems feature gives them."""
    card = data.state.agencies.get(agency)
    if card is None:
        raise UnknownAgencyError(
            f"plan {data.plan.id} has no agency {agency!r}; "
            f"known: {', '.join(known_agencies(data))}"
        )
    plan = data.plan
    led = tuple(sorted(t for t, target in plan.targets.items() if target.lead == agency))
    co_owned = tuple(
        sorted(t for t in plan.targets if t not in led and agency in plan.co_owners(t))
    )
    mine = set(led) | set(co_owned)
    commitments = tuple(
        c.id
        for c in sorted(plan.commitments.values(), key=lambda c: (c.task, c.id))
        if c.lead == agency
    )
    return AgencyReport(
        data=data,
        agency=agency,
        card=card,
        led=led,
        co_owned=co_owned,
        commitments=commitments,
        alerts=tuple(a for a in data.state.alerts if a.target in mine),
        transitions=tuple(p for p in data.transitions if p.transition.target in mine),
        problems=None if problems is None else tuple(problems),
    )
