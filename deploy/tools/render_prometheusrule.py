"""Renders deploy/prometheus/rules.yml (the one source of the alerting rules) into the Prometheus
Operator's PrometheusRule at deploy/k8s/components/monitoring/prometheusrule.yaml.

Run after editing the rules: `python deploy/tools/render_prometheusrule.py`. tests/deploy checks
that the committed PrometheusRule holds exactly the groups of rules.yml.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
OUTPUT = ROOT / "deploy" / "k8s" / "components" / "monitoring" / "prometheusrule.yaml"

HEADER = """\
# GENERATED from deploy/prometheus/rules.yml by deploy/tools/render_prometheusrule.py: do not edit.
# The label `release: prometheus` matches kube-prometheus-stack's default ruleSelector.
"""


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so PromQL stays readable."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def render(rules_text: str) -> str:
    groups = yaml.safe_load(rules_text)["groups"]
    resource: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "planwatch",
            "labels": {"app.kubernetes.io/name": "planwatch", "release": "prometheus"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.dump(resource, Dumper=_Dumper, sort_keys=False, width=100)


def main() -> int:
    OUTPUT.write_text(render(RULES.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
