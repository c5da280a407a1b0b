"""Where the deployment files live, for the tests under tests/deploy/."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "rules.yml"
SCRAPE_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
K8S_DIR = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
SCHEMAS_DIR = DEPLOY / "schemas"
PROMETHEUS_RULE = K8S_DIR / "components" / "monitoring" / "prometheusrule.yaml"
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
DEPLOY_DOC = REPO / "docs" / "deploy.md"
INFRA_BIN = REPO / ".infra" / "bin"
INSTALL_PROMTOOL = DEPLOY / "tools" / "install-promtool.sh"
