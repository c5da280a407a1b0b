"""The metric names the services really export, and the metric names a PromQL expression uses.

`exported_series_names()` instantiates the services' metric classes on fresh registries made by
the services' own `new_registry()` and expands every family into the series names Prometheus
stores, suffixes included (`_total`, `_created`, `_bucket`, `_sum`, `_count`, `_info`).
`promql_metric_names()` is a small lexer, not a parser: it removes strings, label matchers, range
selectors, numbers, grouping clauses and Grafana variables, then reads the identifiers that are
not functions or keywords.
"""

from __future__ import annotations

import re

from prometheus_client.metrics_core import Metric

from services.ingest.metrics import IngestMetrics
from services.notify.metrics import NotifyMetrics
from services.scoring.metrics import ScoringMetrics
from shared.runtime.host import new_registry
from shared.runtime.metrics import RuntimeMetrics

# Series Prometheus adds itself to every scrape target.
PROMETHEUS_SYNTHETIC = frozenset(
    {
        "up",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    }
)

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "unknown": ("",),
}


def _series_names(family: Metric) -> set[str]:
    """The sample names when the family has samples; else (labelled, no child yet) the
    names its type implies."""
    if family.samples:
        return {sample.name for sample in family.samples}
    return {family.name + suffix for suffix in _SUFFIXES[family.type]}


def exported_series_names() -> frozenset[str]:
    """Every series name the three services can expose on /metrics."""
    names: set[str] = set()
    for service, metrics_class in (
        ("ingest", IngestMetrics),
        ("scoring", ScoringMetrics),
        ("notify", NotifyMetrics),
    ):
        registry = new_registry()  # the services' own: process and platform collectors
        RuntimeMetrics(registry, service)
        metrics_class(registry)
        for family in registry.collect():
            names |= _series_names(family)
    return frozenset(names)


FUNCTIONS = frozenset(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
    clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
    days_in_month deg delta deriv exp floor histogram_count histogram_fraction histogram_quantile
    histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta increase irate
    label_join label_replace last_over_time ln log10 log2 mad_over_time max_over_time
    min_over_time minute month predict_linear present_over_time quantile_over_time rad rate
    resets round scalar sgn sin sinh sort sort_desc sqrt stddev_over_time stdvar_over_time
    sum_over_time tan tanh time timestamp vector year
    sum min max avg group stddev stdvar count count_values bottomk topk quantile""".split()  # noqa: SIM905
)
KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right"}
)
KEYWORDS_VALUES = frozenset({"inf", "nan"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_DURATION = re.compile(r"(?<![\w:])(\d+(ms|[smhdwy]))+(?![\w:])")
_NUMBER = re.compile(r"(?<![\w:])(0x[0-9a-fA-F]+|\d+(\.\d*)?([eE][+-]?\d+)?|\.\d+)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def promql_metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects (label names, functions and keywords excluded)."""
    text = _STRING.sub('""', expr)
    text = _GRAFANA_VAR.sub("1", text)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub(" ", text)
    text = _DURATION.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        following = text[match.end() :].lstrip()
        if following.startswith("(") and word in FUNCTIONS | KEYWORDS:
            continue
        if word.lower() in KEYWORDS | KEYWORDS_VALUES:
            continue
        names.add(word)
    return names
