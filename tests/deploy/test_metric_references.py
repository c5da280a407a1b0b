"""Every dashboard query and alert expression names only metrics the services really export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.metric_names import (
    PROMETHEUS_SYNTHETIC,
    exported_series_names,
    promql_metric_names,
)
from tests.deploy.paths import DASHBOARDS_DIR, GRAFANA_DIR, RULES_FILE

KNOWN = exported_series_names() | PROMETHEUS_SYNTHETIC


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))  # collapsed rows hold their panels
    return found


def dashboard_queries(path: Path) -> list[str]:
    """The PromQL of every panel target and every query variable."""
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    queries = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            text = variable["query"]["query"]
            # label_values(<selector>, label): only the selector names a metric.
            if text.startswith("label_values("):
                text = text[len("label_values(") : text.rindex(",")]
            queries.append(text)
    return queries


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def test_the_lexer_finds_metric_names_and_nothing_else() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(a_seconds_bucket{job=~"$job", x="up"}'
        "[$__rate_interval]))) > 5 and on (job) up offset 1h30m unless b_total / ignoring(x) c"
    )
    assert promql_metric_names(expr) == {"a_seconds_bucket", "up", "b_total", "c"}


def test_exported_names_include_the_suffixed_series() -> None:
    assert {
        "planwatch_ingest_events_rejected_total",
        "planwatch_scoring_rescore_duration_seconds_bucket",
        "planwatch_scoring_last_tick_received_timestamp_seconds",
        "planwatch_build_info",
        "process_cpu_seconds_total",
    } <= KNOWN
    assert "planwatch_ingest_events_rejected" not in KNOWN  # a counter is stored as _total


def test_an_unknown_metric_is_caught() -> None:
    assert promql_metric_names("rate(planwatch_ingest_events_typo_total[5m])") - KNOWN == {
        "planwatch_ingest_events_typo_total"
    }


@pytest.mark.parametrize("expr", rule_expressions())
def test_rule_uses_exported_metrics(expr: str) -> None:
    names = promql_metric_names(expr)
    assert names, f"no metric found in {expr!r}"
    assert names - KNOWN == set()


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_uses_exported_metrics(path: Path) -> None:
    queries = dashboard_queries(path)
    assert queries
    unknown = {name for q in queries for name in promql_metric_names(q)} - KNOWN
    assert unknown == set(), f"{path.name} queries metrics no service exports"


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_structure(path: Path) -> None:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    provisioned = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    # The dashboards' ${datasource} variable lists the data sources of this type.
    (variable,) = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert variable["query"] in {source["type"] for source in provisioned["datasources"]}
    panels = _panels(dashboard)
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert dashboard["uid"] and dashboard["title"]
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"panel {panel['title']!r} is wider than the grid"
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no query"
    # Panels do not overlap.
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not mine & cells, f"panel {panel['title']!r} overlaps another"
        cells |= mine


def test_uids_are_unique_across_dashboards() -> None:
    uids = [json.loads(p.read_text())["uid"] for p in dashboard_files()]
    assert len(uids) == len(set(uids)) >= 2
