"""The shapes the read API answers, for its OpenAPI document and as a check on every answer.

They describe the CLI's JSON (`shared.domain.method_v1.json_view`) and what the routes add to
it (catalog names, filters' echoes, pages). Every model forbids unknown fields: a field the
view gains and these models lack fails loudly (a 500 in tests) instead of vanishing from the
API unseen.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.method_v1 import AlertRule, Severity, Status


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Rollup(_Shape):
    """A task's, an area's, the plan's or an agency's roll-up (docs/scoring.md, "Roll-ups")."""

    score: float | None
    status: Status | None
    counts: dict[Status, int] = Field(description="Targets per status, every status")
    coverage: float | None = Field(description="Share of the targets' weight that is scored")
    unscored: list[str] = Field(description="Tasks below with no scored target")


class Point(_Shape):
    as_of: str = Field(description="ISO date")
    value: float


class ReportedPoint(Point):
    agency: str
    event_id: str


class Baseline(Point):
    source: str


class TargetResult(_Shape):
    """One target's result at the clock (docs/scoring.md)."""

    status: Status
    score: float | None
    progress_share: float | None
    expected_share: float | None
    pace_ratio: float | None
    cagr_ratio: float | None
    projected: float | None
    projected_share: float | None
    likely: bool | None
    observed_per_month: float | None
    required_per_month: float | None
    stale: bool
    days_left: int | None
    days_since_report: int | None
    regression: bool
    points: int
    current: ReportedPoint | None
    baseline: Baseline | None


class AgencyCard(_Shape):
    lead: Rollup
    co: Rollup
    stale: int = Field(description="Stale targets the agency leads")


class ScopedFigure(ReportedPoint):
    """A breakdown's figure (v1.1 "Breakdowns")."""

    points: int
    progress_share: float | None


class TrackedTasks(_Shape):
    total: int
    scored: list[str]
    tracked: list[str]
    untracked: list[str]


class Deliverable(_Shape):
    done: bool
    current: ReportedPoint | None
    evidence: str | None
    note: str | None


class Commitment(_Shape):
    task: str
    deadline: str | None
    done: int
    total: int
    late: bool
    deliverables: dict[str, Deliverable]


class Indicator(_Shape):
    task: str
    current: ReportedPoint | None
    change: float | None
    trend: list[Point]


class Tracked(_Shape):
    tasks: TrackedTasks
    commitments: dict[str, Commitment]
    indicators: dict[str, Indicator]


class FiringAlert(_Shape):
    fingerprint: str
    rule: AlertRule
    target: str
    severity: Severity


class PlanState(_Shape):
    """The whole state, as `planwatch score` prints it, and the service clock."""

    method: str
    plan: str
    at: str = Field(description="The CST day of the state (ISO date)")
    clock: str | None = Field(description="The service clock (RFC 3339)")
    targets: dict[str, TargetResult]
    tasks: dict[str, Rollup]
    areas: dict[str, Rollup]
    overall: Rollup
    agencies: dict[str, AgencyCard]
    breakdowns: dict[str, dict[str, ScopedFigure]]
    tracked: Tracked | None
    alerts: list[FiringAlert]


class PlanSummary(_Shape):
    plan: str
    title_zh: str
    title_en: str
    clock: str | None


class _AtTheClock(_Shape):
    plan: str
    at: str


class NamedRollup(Rollup):
    name_zh: str


class Areas(_AtTheClock):
    areas: dict[str, NamedRollup]


class Area(_AtTheClock, Rollup):
    area: str
    name_zh: str
    name_en: str
    tasks: dict[str, Rollup]


class Tasks(_AtTheClock):
    tasks: dict[str, Rollup]


class Task(_AtTheClock, Rollup):
    task: str
    area: str
    targets: dict[str, TargetResult]


class TargetEntry(TargetResult):
    """A target's result with its catalog facts."""

    id: str
    name_en: str
    metric_zh: str
    task: str
    area: str
    lead: str
    co: list[str]


class Targets(_AtTheClock):
    targets: list[TargetEntry]


class TargetDetail(TargetEntry):
    plan: str
    at: str
    kind: str
    comparator: str
    target: float
    deadline: str | None = Field(description="None: the plan gives no date")
    cadence: str
    alerts: list[FiringAlert]


class SeriesPoint(ReportedPoint):
    reported_at: str
    evidence: str | None = None
    note: str | None = None


class Report(SeriesPoint):
    """A winning report (not a retraction) with its evidence and note when set."""


class Series(_Shape):
    plan: str
    target: str
    count: int = Field(description="Points dated before the cursor (all without one)")
    points: list[SeriesPoint]
    next_before: str | None = Field(description="The next page's `before`; null on the last")
    retracted: list[str]
    recent_reports: list[Report]


class HistoryRecord(BaseModel):
    """One change of the target's result: `before` and `after` are results as stored."""

    model_config = ConfigDict(extra="allow")

    seq: int
    trigger: str
    at: str
    method: str | None
    before: dict[str, object] | None
    after: dict[str, object]


class History(_Shape):
    plan: str
    target: str
    history: list[HistoryRecord]
    next_before: int | None = Field(description="The next page's `before`; null on the last")


class Agencies(_AtTheClock):
    agencies: dict[str, AgencyCard]


class AgencyDetail(_AtTheClock, AgencyCard):
    agency: str
    name_zh: str
    name_en: str
    lead_targets: list[str]
    co_targets: list[str]


class AlertWithLead(FiringAlert):
    lead: str


class Alerts(_AtTheClock):
    alerts: list[AlertWithLead]
