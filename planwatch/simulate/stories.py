"""What each target of the Qingyuan plan does in the demo feed, and why (docs/demo.md).

Every story is invented for the demo: none reports a real-world event as fact, and none names
a real place or enterprise as having done something it may not have done.

Pure data. A story gives a target's underlying ("true") path, which co-owners report some
periods instead of the lead, and the arc it should show in scoring (achieved early, on
track, lagging, deteriorating, silent). `scenario.build_scenario` turns the stories into
dated, signed events with lags and noise.
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
class Story:
    target: str
    arc: Arc
    why: str
    path: Curve | Steps
    co_reports: tuple[CoReport, ...] = field(default_factory=tuple)


#: The agency that stops reporting, and the last `as_of` it reports.
SILENT_AGENCY: Final = "qy.culture-tourism"
SILENT_AFTER: Final = date(2022, 3, 31)

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
        "掌上办 grows steadily with the provincial 粤省事 platform; ends a little above 80 %.",
        Curve(start=52.0, end=82.5, reach=0.97, noise=0.5, monotone=False),
    ),
    Story(
        "gov.online-services",
        Arc.ON_TRACK,
        "网上办 passes 70 % in autumn 2022; one report misplaces a decimal point and is corrected.",
        Curve(start=61.0, end=74.0, reach=0.95, shape=0.9, noise=0.4, monotone=False),
    ),
    Story(
        "infra.5g-coverage",
        Arc.ON_TRACK,
        "5G build-out is fast in 2021 and reaches every township by autumn 2022; "
        "China Tower reports 英德's figure every third month.",
        Curve(start=38.0, end=100.0, reach=0.88, shape=0.8, noise=1.0),
        (CoReport("china-tower.qy", tuple(range(1, 30, 3)), "county.yingde"),),
    ),
    Story(
        "infra.4g-coverage-urban",
        Arc.ACHIEVED_EARLY,
        "Urban 4G was nearly complete at the plan's issue: 100 % by the end of 2021.",
        Curve(start=96.5, end=100.0, reach=0.33, noise=0.3),
    ),
    Story(
        "infra.4g-coverage-villages",
        Arc.ON_TRACK,
        "Natural villages catch up by autumn 2022.",
        Curve(start=88.0, end=100.0, reach=0.84, noise=0.4),
    ),
    Story(
        "infra.fiber-villages",
        Arc.LAGGING,
        "The last remote villages are hard to reach: stuck just under 100 %; "
        "China Telecom reports 连州's villages every fourth month.",
        Curve(start=91.0, end=99.2, reach=1.0, shape=0.7, noise=0.3),
        (CoReport("carrier.china-telecom", tuple(range(2, 30, 4)), "county.lianzhou"),),
    ),
    Story(
        "infra.rural-fiber-200m",
        Arc.LAGGING,
        "200 Mbps rural broadband upgrades slowly: far below 90 % at the deadline.",
        Curve(start=35.0, end=71.0, reach=1.0, shape=1.3, noise=0.8),
    ),
    # --- quarterly: rank and counts -------------------------------------------------------
    Story(
        "industry.eit-rank",
        Arc.DETERIORATING,
        "Neighbouring cities grow faster: the rank slips from 4th to 7th of 12 in 2022.",
        Steps((5, 4, 4, 5, 6, 6, 7)),
    ),
    Story(
        "industry.digital-bases",
        Arc.ACHIEVED_EARLY,
        "The third digital base is recognised in Q1 2022.",
        Steps((1, 1, 2, 3, 3, 3, 3)),
    ),
    Story(
        "industry.5g-smart-parks",
        Arc.ACHIEVED_EARLY,
        "A first 5G smart-park demonstration base is recognised in Q4 2021; one park reports "
        "its own count that quarter.",
        Steps((0, 0, 1, 1, 1, 1, 1)),
        (CoReport("park.guangqing", (2,), "park.guangqing"),),
    ),
    Story(
        "industry.cluster-transformation",
        Arc.CATCHES_UP,
        "Nothing to show for five quarters (off track), then one cluster completes its digital "
        "transformation in Q3 2022.",
        Steps((0, 0, 0, 0, 0, 1, 1)),
    ),
    Story(
        "industry.5g-iiot-benchmarks",
        Arc.LAGGING,
        "One 5G industrial-internet benchmark; the second never materialises.",
        Steps((0, 0, 1, 1, 1, 1, 1)),
    ),
    Story(
        "industry.provincial-tech-centres",
        Arc.LAGGING,
        "Provincial accreditation rounds add a few centres a year: 41 of 45 at the deadline.",
        Curve(start=27.0, end=41.0, noise=0.6),
    ),
    Story(
        "agri.leading-enterprises",
        Arc.LAGGING,
        "The platforms reach more of the city's 166 leading agricultural enterprises each "
        "quarter, national and provincial ones first; 逐步推广 has no date, so the target is "
        "paced against the plan's horizon and never missed.",
        Curve(start=12.0, end=64.0, shape=1.1, noise=0.8),
    ),
    Story(
        "agri.5g-smart-agri-parks",
        Arc.ACHIEVED_EARLY,
        "A first provincial 5G smart-agriculture park is recognised in Q3 2021.",
        Steps((0, 1, 1, 1, 1, 1, 1)),
    ),
    Story(
        "agri.traceability",
        Arc.LAGGING,
        "Traceability enrolment of enterprises is slow; 市农业农村局, its reporter, reports it.",
        Curve(start=55.0, end=86.0, noise=1.0),
    ),
    Story(
        "health.internet-hospitals",
        Arc.ACHIEVED_EARLY,
        "Five public hospitals go online one by one (20 % steps); the Q4 2021 report counts "
        "pending licences and is retracted.",
        Steps((20, 40, 60, 80, 100, 100, 100)),
    ),
    Story(
        "tourism.smart-scenic-spots",
        Arc.SILENT,
        "市文化广电旅游体育局 stops reporting after Q1 2022: report_overdue, then missed.",
        Curve(start=25.0, end=70.0, shape=0.9, noise=1.5),
    ),
    Story(
        "tourism.online-booking",
        Arc.SILENT,
        "Same agency, same silence.",
        Curve(start=45.0, end=85.0, noise=1.5),
    ),
    # --- quarterly milestones (stage indexes) ---------------------------------------------
    Story(
        "gov.data-platform",
        Arc.ON_TRACK,
        "The clause's order: data centre, catalogue, base then thematic databases by the end of "
        "2022.",
        Steps((1, 1, 2, 3, 3, 4, 5)),
    ),
    Story(
        "gov.smart-governance",
        Arc.LAGGING,
        "Pilots spread slowly; the model is not established by the deadline. 市各有关单位 "
        "report 清城区's pilot in two quarters.",
        Steps((1, 1, 1, 2, 2, 3, 3)),
        (CoReport("qy.gov-units", (2, 4), "county.qingcheng"),),
    ),
    Story(
        "industry.tencent-cloud-base",
        Arc.ON_TRACK,
        "Land, power and energy secured in 2021; in service at the end of 2022 (the clause sets "
        "no date). 清新区 reports its part in two quarters.",
        Steps((1, 2, 2, 2, 3, 3, 4)),
        (CoReport("qy.qingxin-district", (3, 5), "county.qingxin"),),
    ),
    Story(
        "industry.mingpu-base",
        Arc.ACHIEVED_EARLY,
        "Construction completed in Q3 2022 (the clause asks for the project to be built).",
        Steps((1, 2, 2, 2, 3, 3, 3)),
    ),
    Story(
        "industry.data-centre-cluster",
        Arc.LAGGING,
        "The city starts as one of the province's data-centre clusters. New large projects "
        "build from Q4 2021; new capacity reported in operation in Q2 2022 fails its power "
        "acceptance in Q3 (a reported step back) and is back in Q4; the leading cluster is "
        "not confirmed by the end of 2022.",
        Steps((0, 0, 1, 1, 2, 1, 2), intended_drop_at=(5,)),
    ),
    Story(
        "logistics.digital-park",
        Arc.LAGGING,
        "The logistics platform goes online but no leading enterprise settles; 广州对口帮扶"
        "清远指挥部 reports the 广清 part one quarter.",
        Steps((1, 1, 2, 2, 3, 3, 3)),
        (CoReport("gz.qy-assistance-hq", (4,), "park.guangqing"),),
    ),
    Story(
        "economy.evaluation-system",
        Arc.ON_TRACK,
        "Research, method, monitoring, a first evaluation system set up by the end of 2022 "
        "(the clause sets no date); its lead reports it.",
        Steps((0, 1, 1, 2, 3, 3, 4)),
    ),
)
