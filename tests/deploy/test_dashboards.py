"""The Grafana dashboards work on any Grafana: the data source is a `${datasource}` variable
(type prometheus) used by every panel, query and variable; every query honours each filter
variable of its dashboard (`$plan` on the plan dashboard, `$job` on the operations one); and
every metric the plan dashboard reads carries the `plan` label."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from services.ingest.metrics import IngestMetrics
from services.notify.metrics import NotifyMetrics
from services.scoring.metrics import ScoringMetrics
from shared.runtime.metrics import RuntimeMetrics
from tests.deploy.metric_names import promql_metric_names
from tests.deploy.paths import DASHBOARDS_DIR
from tests.deploy.test_metric_references import dashboard_files

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PLAN_DASHBOARD = DASHBOARDS_DIR / "plan.json"
_SUFFIXES = ("_total", "_created", "_bucket", "_sum", "_count")


def _load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return dashboard


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return found


def _targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in _panels(dashboard) for t in p.get("targets", [])]


def _filters(dashboard: dict[str, Any]) -> list[str]:
    """The dashboard's filter variables: its query variables (plan, job)."""
    return [v["name"] for v in dashboard["templating"]["list"] if v["type"] == "query"]


def _selectors(expr: str, metric: str) -> list[str]:
    """The label matchers of every place `expr` selects `metric` ("" when it has none)."""
    pattern = rf"(?<![\w:]){re.escape(metric)}(?![\w:])(\{{[^{{}}]*\}})?"
    return [(m.group(1) or "")[1:-1] for m in re.finditer(pattern, expr)]


def _label_names() -> dict[str, tuple[str, ...]]:
    """Each metric the services define -> its label names (from the definitions)."""
    registry = CollectorRegistry()
    names: dict[str, tuple[str, ...]] = {}
    for metrics in (
        IngestMetrics(registry),
        ScoringMetrics(registry),
        NotifyMetrics(registry),
        RuntimeMetrics(registry, "test"),
    ):
        for value in vars(metrics).values():
            if isinstance(value, MetricWrapperBase):
                names[value._name] = tuple(value._labelnames)
    return names


def _datasources(node: Any) -> list[Any]:
    """Every `datasource` value anywhere in the dashboard."""
    if isinstance(node, list):
        return [found for item in node for found in _datasources(item)]
    if not isinstance(node, dict):
        return []
    own = [node["datasource"]] if "datasource" in node else []
    return own + [found for value in node.values() for found in _datasources(value)]


def _base_name(series: str, defined: dict[str, tuple[str, ...]]) -> str:
    if series in defined:
        return series
    for suffix in _SUFFIXES:
        if series.endswith(suffix) and series.removesuffix(suffix) in defined:
            return series.removesuffix(suffix)
    raise KeyError(f"{series} is defined by no service")


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_the_data_source_is_a_variable_used_everywhere(path: Path) -> None:
    dashboard = _load(path)
    variables = dashboard["templating"]["list"]
    first = variables[0]
    assert (first["name"], first["type"], first["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    for variable in variables[1:]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            assert "targets" not in panel
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    # Nowhere else either (overrides, annotations, links): no data source by a fixed uid.
    assert all(value == DATASOURCE for value in _datasources(dashboard))


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_every_query_honours_the_dashboards_filters(path: Path) -> None:
    dashboard = _load(path)
    filters = _filters(dashboard)
    assert filters, "a dashboard without a filter variable"
    for title, target in _targets(dashboard):
        expr = target["expr"]
        metrics = promql_metric_names(expr)
        assert metrics, f"{title}: no metric in {expr!r}"
        for metric in metrics:
            for matchers in _selectors(expr, metric):
                for name in filters:
                    assert f'{name}=~"${name}"' in matchers, f"{title}: {metric} ignores ${name}"


def test_the_plan_dashboard_filters_by_plan_on_plan_labelled_metrics() -> None:
    dashboard = _load(PLAN_DASHBOARD)
    (plan,) = [v for v in dashboard["templating"]["list"] if v["name"] == "plan"]
    assert plan["type"] == "query" and plan["multi"] and plan["includeAll"]
    assert re.fullmatch(r"label_values\(\w+, plan\)", plan["query"]["query"])
    defined = _label_names()
    for title, target in _targets(dashboard):
        for series in promql_metric_names(target["expr"]):
            labels = defined[_base_name(series, defined)]
            assert "plan" in labels, f"{title}: {series} has no plan label ({labels})"


def test_the_checks_catch_a_query_that_ignores_the_plan() -> None:
    assert _selectors('sum(a{plan=~"$plan"}) / b', "a") == ['plan=~"$plan"']
    assert _selectors('sum(a{plan=~"$plan"}) / b', "b") == [""]
    assert _selectors("rate(a_total[5m])", "a") == []
    assert _label_names()["planwatch_scoring_targets"] == ("plan", "status")
