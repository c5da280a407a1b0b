"""What each target of the Qingyuan plan does in the demo feed, and why (docs/demo.md).

Every story is invented for the demo: none reports a real-world event as fact, and none names
a real place or enterprise as having done something it may not have done. A `why` describes
the simulated series only; co-owners' breakdowns are named by their scope ids.

Pure data. A story gives a target's underlying ("true") path, which co-owners send scoped
breakdowns beside the lead's headline figure in some periods, and the arc it should show in
scoring (achieved early, on track, lagging, deteriorating, silent). The indicator trends give
clause 3.6's statistics their invented quarterly values. `scenario.build_scenario` turns them
into dated, signed events sent on workdays before the 报送 day (see `workdays`), with noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Final


class Arc(StrEnum):
    """The shape a story is written to show (the scoring method decides the status)."""

    ACHIEVED_EARLY = "achieved-early"  # reaches the target well before the deadline
    ON_TRACK = "on-track"  # reaches it around the deadline
    LAGGING = "lagging"  # progresses too slowly: at risk / off track, then missed
    DETERIORATING = "deteriorating"  # moves away from the target
    SILENT = "silent"  # its agency stops reporting: report_overdue
    CATCHES_UP = "catches-up"  # nothing for a long time (off track), then achieved in time


@dataclass(frozen=True)
class Curve:
    """A smooth path for shares and counts: `start` at the plan's issue, `end` reached at
    fraction `reach` of the issue-to-deadline span (held afterwards), `progress ** shape`
    in between (shape < 1 starts fast, > 1 starts slow). `noise` is the standard deviation
    of the measurement noise; `monotone` paths never report a lower value than before
    (coverage and accreditations do not shrink)."""

    start: float
    end: float
    reach: float = 1.0
    shape: float = 1.0
    noise: float = 0.0
    monotone: bool = True


@dataclass(frozen=True)
class Steps:
    """Explicit values per reporting period (first period first; the last is held): ranks,
    small counts, and milestone stage indexes. `intended_drop_at` lists the periods where a
    step back is part of the story (else milestone stages never go down)."""

    values: tuple[float, ...]
    intended_drop_at: tuple[int, ...] = ()


@dataclass(frozen=True)
class CoReport:
    """A co-owner that reports its own breakdown (method v1.1 `scope`: its county or park) for
    the periods `periods` (0 = first period), beside the reporter's citywide headline."""

    agency: str
    periods: tuple[int, ...]
    scope: str


@dataclass(frozen=True)
class IndicatorTrend:
    """An invented quarterly series for an indicator (no target, never scored): `start` in
    the first quarter reported, growing by `growth` (relative) a quarter, times the seasonal
    factor of the calendar quarter (Q1..Q4), with relative noise `noise`; `decimals` as the
    statistics bureau publishes it; `monotone` series (stocks: stations, enterprises) never
    go down."""

    indicator: str
    why: str
    start: float
    growth: float
    noise: float = 0.0
    seasonal: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    decimals: int = 0
    monotone: bool = True


@dataclass(frozen=True)
class Story:
    target: str
    arc: Arc
    why: str
    path: Curve | Steps
    co_reports: tuple[CoReport, ...] = field(default_factory=tuple)


#: The agency that stops reporting, and the last `as_of` it reports.
SILENT_AGENCY: Final = "qy.culture-tourism"
SILENT_AFTER: Final = date(2022, 3, 31)

#: The habitual latecomer: it sends its figures a workday or two after the 报送 day.
LATECOMER_AGENCY: Final = "qy.agriculture"

#: Commitments: a third of each commitment's deliverables (rounded down) stays not done by the
#: plan's horizon; done ones link evidence on this placeholder domain (nothing real behind it).
OPEN_SHARE_DIVISOR: Final = 3
EVIDENCE_BASE: Final = "https://evidence.example.gov.cn"

#: The correction: a report with a misplaced decimal point, corrected days later.
CORRECTED_TARGET: Final = "gov.online-services"
CORRECTED_AS_OF: Final = date(2022, 6, 30)

#: The retraction: a report counting hospitals whose licences were still pending.
RETRACTED_TARGET: Final = "health.internet-hospitals"
RETRACTED_AS_OF: Final = date(2021, 12, 31)
RETRACTED_WRONG_VALUE: Final = 100.0

#: Steps of quarterly stories cover the quarters from 2021-06-30 to 2022-12-31.
QUARTERS_TO_DEADLINE: Final = 7

STORIES: Final[tuple[Story, ...]] = (
    # --- monthly shares -------------------------------------------------------------------
    Story(
        "gov.mobile-services",
        Arc.ON_TRACK,
        "The simulated 掌上办 share grows steadily and ends a little above 80 %.",
        Curve(start=52.0, end=82.5, reach=0.97, noise=0.5, monotone=False),
    ),
    Story(
        "gov.online-services",
        Arc.ON_TRACK,
        "The simulated 网上办 share passes 70 % in autumn 2022; one report misplaces a decimal "
        "point and is corrected.",
        Curve(start=61.0, end=74.0, reach=0.95, shape=0.9, noise=0.4, monotone=False),
    ),
    Story(
        "infra.5g-coverage",
        Arc.ON_TRACK,
        "The simulated coverage rises fast in 2021 and reaches 100 % by autumn 2022; "
        "china-tower.qy sends a county.yingde breakdown every third month.",
        Curve(start=38.0, end=100.0, reach=0.88, shape=0.8, noise=1.0),
        (CoReport("china-tower.qy", tuple(range(1, 30, 3)), "county.yingde"),),
    ),
    Story(
        "infra.4g-coverage-urban",
        Arc.ACHIEVED_EARLY,
        "The simulated urban share starts near complete and reaches 100 % by the end of 2021.",
        Curve(start=96.5, end=100.0, reach=0.33, noise=0.3),
    ),
    Story(
        "infra.4g-coverage-villages",
        Arc.ON_TRACK,
        "The simulated village share reaches 100 % by autumn 2022.",
        Curve(start=88.0, end=100.0, reach=0.84, noise=0.4),
    ),
    Story(
        "infra.fiber-villages",
        Arc.LAGGING,
        "The simulated share stalls just under 100 %; carrier.china-telecom sends a "
        "county.lianzhou breakdown every fourth month.",
        Curve(start=91.0, end=99.2, reach=1.0, shape=0.7, noise=0.3),
        (CoReport("carrier.china-telecom", tuple(range(2, 30, 4)), "county.lianzhou"),),
    ),
    Story(
        "infra.rural-fiber-200m",
        Arc.LAGGING,
        "The simulated 200 Mbps share rises slowly: far below 90 % at the deadline.",
        Curve(start=35.0, end=71.0, reach=1.0, shape=1.3, noise=0.8),
    ),
    # --- quarterly: rank and counts -------------------------------------------------------
    Story(
        "industry.eit-rank",
        Arc.DETERIORATING,
        "The simulated rank slips from 4th to 7th of 12 in 2022.",
        Steps((5, 4, 4, 5, 6, 6, 7)),
    ),
    Story(
        "industry.digital-bases",
        Arc.ACHIEVED_EARLY,
        "The simulated count reaches three bases in Q1 2022.",
        Steps((1, 1, 2, 3, 3, 3, 3)),
    ),
    Story(
        "industry.5g-smart-parks",
        Arc.ACHIEVED_EARLY,
        "The simulated count reaches one base in Q4 2021; park.guangqing sends its own "
        "breakdown that quarter.",
        Steps((0, 0, 1, 1, 1, 1, 1)),
        (CoReport("park.guangqing", (2,), "park.guangqing"),),
    ),
    Story(
        "industry.cluster-transformation",
        Arc.CATCHES_UP,
        "The simulated count stays at zero for five quarters (off track), then reaches one in "
        "Q3 2022.",
        Steps((0, 0, 0, 0, 0, 1, 1)),
    ),
    Story(
        "industry.5g-iiot-benchmarks",
        Arc.LAGGING,
        "The simulated count reaches one benchmark and stays there (two wanted).",
        Steps((0, 0, 1, 1, 1, 1, 1)),
    ),
    Story(
        "industry.provincial-tech-centres",
        Arc.LAGGING,
        "The simulated count adds a few centres a year: 41 of 45 at the deadline.",
        Curve(start=27.0, end=41.0, noise=0.6),
    ),
    Story(
        "agri.leading-enterprises",
        Arc.LAGGING,
        "The simulated share of the 166 leading agricultural enterprises on the platforms grows "
        "each quarter; 逐步推广 has no date, so the target is paced against the plan's horizon "
        "and never missed.",
        Curve(start=12.0, end=64.0, shape=1.1, noise=0.8),
    ),
    Story(
        "agri.5g-smart-agri-parks",
        Arc.ACHIEVED_EARLY,
        "The simulated count reaches one park in Q3 2021.",
        Steps((0, 1, 1, 1, 1, 1, 1)),
    ),
    Story(
        "agri.traceability",
        Arc.LAGGING,
        "The simulated enrolment share rises slowly; qy.agriculture, its reporter and the demo's "
        "habitual latecomer, sends it a workday or two after the 报送 day.",
        Curve(start=55.0, end=86.0, noise=1.0),
    ),
    Story(
        "health.internet-hospitals",
        Arc.ACHIEVED_EARLY,
        "The simulated share rises in 20 % steps to 100 %; the Q4 2021 report counts pending "
        "licences and is retracted.",
        Steps((20, 40, 60, 80, 100, 100, 100)),
    ),
    Story(
        "tourism.smart-scenic-spots",
        Arc.SILENT,
        "In the demo its agency stops reporting after Q1 2022: report_overdue, then missed.",
        Curve(start=25.0, end=70.0, shape=0.9, noise=1.5),
    ),
    Story(
        "tourism.online-booking",
        Arc.SILENT,
        "Same agency, same simulated silence.",
        Curve(start=45.0, end=85.0, noise=1.5),
    ),
    # --- quarterly milestones (stage indexes) ---------------------------------------------
    Story(
        "gov.data-platform",
        Arc.ON_TRACK,
        "The simulated stages follow the clause's order: data centre, catalogue, base then "
        "thematic databases by the end of 2022.",
        Steps((1, 1, 2, 3, 3, 4, 5)),
    ),
    Story(
        "gov.smart-governance",
        Arc.LAGGING,
        "The simulated stages move slowly and the last is not reached by the deadline; "
        "qy.gov-units sends a county.qingcheng breakdown in two quarters.",
        Steps((1, 1, 1, 2, 2, 3, 3)),
        (CoReport("qy.gov-units", (2, 4), "county.qingcheng"),),
    ),
    Story(
        "industry.tencent-cloud-base",
        Arc.ON_TRACK,
        "The simulated stages reach the last one at the end of 2022 (the clause sets no date); "
        "qy.qingxin-district sends a county.qingxin breakdown in two quarters.",
        Steps((1, 2, 2, 2, 3, 3, 4)),
        (CoReport("qy.qingxin-district", (3, 5), "county.qingxin"),),
    ),
    Story(
        "industry.mingpu-base",
        Arc.ACHIEVED_EARLY,
        "The simulated stages reach 'completed' in Q3 2022 (the clause asks for the project to be "
        "built).",
        Steps((1, 2, 2, 2, 3, 3, 3)),
    ),
    Story(
        "industry.data-centre-cluster",
        Arc.LAGGING,
        "The simulated stages move from Q4 2021, reach 'capacity-in-operation' in Q2 2022, "
        "step back in Q3 (the demo's one intended step back) and return in Q4; the last stage "
        "is not reached by the end of 2022.",
        Steps((0, 0, 1, 1, 2, 1, 2), intended_drop_at=(5,)),
    ),
    Story(
        "logistics.digital-park",
        Arc.LAGGING,
        "The simulated stages stop at 'platform-online'; gz.qy-assistance-hq sends a "
        "park.guangqing breakdown one quarter.",
        Steps((1, 1, 2, 2, 3, 3, 3)),
        (CoReport("gz.qy-assistance-hq", (4,), "park.guangqing"),),
    ),
    Story(
        "economy.evaluation-system",
        Arc.ON_TRACK,
        "The simulated stages go research, method, monitoring, established by the end of 2022 "
        "(the clause sets no date); its lead reports it.",
        Steps((0, 1, 1, 2, 3, 3, 4)),
    ),
)

#: Clause 3.6's indicators: invented quarterly values, clearly simulated (docs/demo.md).
INDICATOR_TRENDS: Final[tuple[IndicatorTrend, ...]] = (
    IndicatorTrend(
        "economy.digital-value-added",
        "Invented: the quarter's value added grows about 2.5 % a quarter, lower in Q1 and "
        "higher in Q4.",
        start=118.0,
        growth=0.025,
        noise=0.012,
        seasonal=(0.92, 1.0, 1.0, 1.08),
        decimals=1,
        monotone=False,
    ),
    IndicatorTrend(
        "economy.5g-base-stations",
        "Invented: base stations in service grow about 8 % a quarter, never fewer.",
        start=2600.0,
        growth=0.08,
        noise=0.01,
    ),
    IndicatorTrend(
        "economy.cloud-enterprises",
        "Invented: enterprises on the cloud grow about 5 % a quarter, never fewer.",
        start=850.0,
        growth=0.05,
        noise=0.01,
    ),
)
