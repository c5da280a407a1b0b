"""The alerting rules and the compose scrape config, checked and unit-tested with promtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.deploy.paths import REPO, RULE_TESTS_DIR, RULES_FILE, SCRAPE_CONFIG

REQUIRED_ALERTS = {
    "PlanwatchServiceDown",
    "PlanwatchConsumerLagGrowing",
    "PlanwatchEventsDeadLettered",
    "PlanwatchRescoreLatencyHigh",
    "PlanwatchDeliveriesFailing",
    "PlanwatchReceiverDisabled",
    "PlanwatchNoTicks",
}
SEVERITIES = {"critical", "warning", "info"}


def _run(args: list[str | Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False
    )


def _alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def test_promtool_check_rules(promtool: Path) -> None:
    result = _run([promtool, "check", "rules", RULES_FILE])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_alerts())} rules found" in result.stdout


def test_promtool_check_scrape_config(promtool: Path) -> None:
    result = _run([promtool, "check", "config", SCRAPE_CONFIG])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests(promtool: Path) -> None:
    files = sorted(RULE_TESTS_DIR.glob("*.yml"))
    assert files, f"no promtool rule tests in {RULE_TESTS_DIR}"
    result = _run([promtool, "test", "rules", *files])
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_promtool_test() -> None:
    tested: set[str] = set()
    fired: set[str] = set()
    for path in RULE_TESTS_DIR.glob("*.yml"):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                tested.add(check["alertname"])
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    names = {rule["alert"] for rule in _alerts()}
    assert names - fired == set(), "alerts never shown to fire in a promtool test"
    assert names - tested == set()


def test_the_required_alerts_exist() -> None:
    assert {rule["alert"] for rule in _alerts()} >= REQUIRED_ALERTS


@pytest.mark.parametrize("rule", _alerts(), ids=lambda rule: str(rule["alert"]))
def test_alert_is_complete(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), "needs a `for:` duration"
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and annotations["description"].strip()
    url = annotations["runbook_url"]
    assert url.endswith(f"/docs/deploy.md#alert-{rule['alert'].lower()}")
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.hostname, "an absolute https URL"
    assert url.count("/docs/") == 1, "each overlay replaces everything before /docs/"


def _markdown_anchors(text: str) -> set[str]:
    """Explicit `<a id="...">` / `{#...}` anchors plus GitHub's slugs of the headings."""
    anchors = set(re.findall(r'<a (?:id|name)="([^"]+)"', text))
    anchors |= set(re.findall(r"\{#([A-Za-z0-9_-]+)\}", text))
    for heading in re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_runbook_urls_resolve_to_headings_in_the_docs() -> None:
    """<base>/docs/<file>#<anchor>: the file is in docs/ and has the heading."""
    bases = set()
    missing = set()
    for rule in _alerts():
        base, rest = rule["annotations"]["runbook_url"].split("/docs/", 1)
        bases.add(base)
        name, anchor = rest.split("#", 1)
        doc = REPO / "docs" / name
        if not doc.is_file() or anchor not in _markdown_anchors(doc.read_text(encoding="utf-8")):
            missing.add(rule["alert"])
    assert missing == set(), f"no runbook section in docs/ for {sorted(missing)}"
    assert len(bases) == 1, "one base for every alert"
