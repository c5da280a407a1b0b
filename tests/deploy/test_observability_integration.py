"""The three real services scraped by a real Prometheus with the real rules and dashboards.

Starts ingest, scoring and notify as subprocesses on free loopback ports against the session's
Kafka and FerretDB, waits for /readyz, lints each /metrics with `promtool check metrics`, starts
Prometheus (Debian's binary, 127.0.0.1, temporary TSDB) with a generated scrape config and
deploy/prometheus/rules.yml, and checks that every target is up, every rule evaluates without
error and every dashboard query is accepted. Everything is stopped with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from planwatch.infra.ports import free_port
from shared import topics
from shared.kafka_admin import ensure_topics
from tests.deploy.paths import COMPOSE_FILE, REPO, RULES_FILE
from tests.deploy.test_metric_references import dashboard_files, dashboard_queries
from tests.integration.notify_support import shipped_routing_secrets

pytestmark = pytest.mark.integration

SERVICES = ("ingest", "scoring", "notify")
INPUT_TOPICS = {"ingest": topics.PROGRESS, "scoring": topics.ACCEPTED, "notify": topics.ALERTS}
STOP_GRACE_S = 30.0  # graceful_timeout_s (20 s) plus closing the clients
T = TypeVar("T")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after the grace period; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        return self.popen.returncode


def _start(name: str, args: list[str], env: dict[str, str], log: Path, port: int) -> Process:
    handle = log.open("wb")
    popen = subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=log.parent)
    handle.close()
    return Process(name=name, popen=popen, log=log, port=port)


def _wait_for(
    what: str, check: Callable[[], T | None], timeout_s: float, procs: list[Process]
) -> T:
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.popen.poll() is not None:
                pytest.fail(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.log_tail()}")
        try:
            result = check()
            if result is not None:
                return result
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last_error = repr(exc)
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in procs)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what} ({last_error})\n{logs}")


@dataclass
class Stack:
    services: dict[str, Process]
    prometheus: Process

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.prometheus.port}"


def _service_env(
    service: str, port: int, kafka_bootstrap: str, mongodb_uri: str, run_id: str
) -> dict[str, str]:
    prefix = service.upper()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INGEST_", "SCORING_", "NOTIFY_"))
    }
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URI": mongodb_uri,
            "MONGODB_DATABASE": f"test_{run_id}",
            f"{prefix}_HTTP__HOST": "127.0.0.1",
            # `port` is the management port: /readyz and /metrics, what Prometheus scrapes.
            f"{prefix}_HTTP__PORT": str(free_port()),
            f"{prefix}_MANAGEMENT_PORT": str(port),
            "PLANWATCH_AUTH_MODE": "dev",  # nothing here calls the authenticated routes
            # Own input topic and group: this test must not consume other tests' events.
            f"{prefix}_GROUP_ID": f"test-group-{run_id}-{service}",
            f"{prefix}_INPUT_TOPIC": f"test.{run_id}.{service}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if service == "notify":
        env.update(shipped_routing_secrets())  # the shipped routing file; nothing is sent
    return env


def _scrape_config(ports: dict[str, int]) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [
            {
                "job_name": f"planwatch-{service}",
                "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
            }
            for service, port in ports.items()
        ],
    }


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str,
    mongodb_uri: str,
    prometheus_binary: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    run_id = uuid.uuid4().hex[:12]
    workdir: Path = tmp_path_factory.mktemp("observability")
    # Each service's own input topic, with the partition count of the topic it stands in for.
    asyncio.run(
        ensure_topics(
            kafka_bootstrap,
            {f"test.{run_id}.{s}": topics.PARTITIONS[INPUT_TOPICS[s]] for s in SERVICES},
        )
    )
    services: dict[str, Process] = {}
    prometheus: Process | None = None
    try:
        for service in SERVICES:
            port = free_port()
            script = str(Path(sys.executable).with_name(f"planwatch-{service}"))
            env = _service_env(service, port, kafka_bootstrap, mongodb_uri, run_id)
            services[service] = _start(service, [script], env, workdir / f"{service}.log", port)
        procs = list(services.values())
        for proc in procs:

            def ready(proc: Process = proc) -> bool | None:
                response = httpx.get(f"http://127.0.0.1:{proc.port}/readyz", timeout=5)
                return True if response.status_code == 200 else None

            _wait_for(f"{proc.name} /readyz", ready, 120, procs)

        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(_scrape_config({s: p.port for s, p in services.items()})))
        port = free_port()
        prometheus = _start(
            "prometheus",
            [
                str(prometheus_binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            dict(os.environ),
            workdir / "prometheus.log",
            port,
        )

        def prometheus_ready() -> bool | None:
            response = httpx.get(f"http://127.0.0.1:{port}/-/ready", timeout=5)
            return True if response.status_code == 200 else None

        _wait_for("Prometheus /-/ready", prometheus_ready, 60, [*procs, prometheus])
        yield Stack(services=services, prometheus=prometheus)
    finally:
        if prometheus is not None:
            prometheus.stop()
        for proc in services.values():
            proc.stop()  # a no-op for those test_services_stop_cleanly stopped


def _api(stack: Stack, path: str, **params: str) -> Any:
    response = httpx.get(f"{stack.prometheus_url}{path}", params=params, timeout=10)
    body = response.json()
    if body.get("status") != "success":
        raise ValueError(f"{path} {params}: {body}")
    return body["data"]


def test_promtool_check_metrics_on_real_output(stack: Stack, promtool: Path) -> None:
    for name, proc in stack.services.items():
        text = httpx.get(f"http://127.0.0.1:{proc.port}/metrics", timeout=10).text
        assert "planwatch_build_info" in text
        result = subprocess.run(
            [str(promtool), "check", "metrics"],
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_prometheus_scrapes_all_three_services(stack: Stack) -> None:
    def all_up() -> dict[str, str] | None:
        targets = _api(stack, "/api/v1/targets")["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return health if health and all(h == "up" for h in health.values()) else None

    procs = [*stack.services.values(), stack.prometheus]
    health = _wait_for("all targets up", all_up, 60, procs)
    assert set(health) == {f"planwatch-{s}" for s in SERVICES}

    def up_values() -> dict[str, float] | None:
        result = _api(stack, "/api/v1/query", query="up")["result"]
        values = {r["metric"]["job"]: float(r["value"][1]) for r in result}
        return values if len(values) == len(SERVICES) else None

    assert set(_wait_for("up series", up_values, 30, procs).values()) == {1.0}


def test_rules_load_and_evaluate_without_error(stack: Stack) -> None:
    source = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    expected = {r["alert"] for g in source["groups"] for r in g["rules"]}
    procs = [*stack.services.values(), stack.prometheus]

    def evaluated() -> list[dict[str, Any]] | None:
        groups = _api(stack, "/api/v1/rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        done = all(not r["lastEvaluation"].startswith("0001-") for r in rules)
        return rules if rules and done else None

    rules = _wait_for("every rule evaluated", evaluated, 60, procs)
    assert {r["name"] for r in rules} == expected
    for rule in rules:
        assert rule["health"] == "ok", f"{rule['name']}: {rule.get('lastError')}"
        assert not rule.get("lastError"), rule["name"]
    # The services are up, so the service-down alert is not active.
    alerts = _api(stack, "/api/v1/alerts")["alerts"]
    assert not [a for a in alerts if a["labels"]["alertname"] == "PlanwatchServiceDown"]


def _grafana_to_promql(query: str) -> str:
    """Grafana's variables replaced the way Grafana would for 'All' on a 1 s scrape interval."""
    return (
        query.replace("$__rate_interval", "1m")
        .replace('=~"$job"', '=~"planwatch-.*"')
        .replace('=~"$plan"', '=~".*"')
    )


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda p: p.name)
def test_dashboard_queries_are_valid_promql(stack: Stack, path: Path) -> None:
    for query in dashboard_queries(path):
        promql = _grafana_to_promql(query)
        assert "$" not in promql, f"unhandled Grafana variable in {query!r}"
        response = httpx.get(
            f"{stack.prometheus_url}/api/v1/query", params={"query": promql}, timeout=10
        )
        body = response.json()
        assert body["status"] == "success", f"{path.name}: {promql}: {body.get('error')}"


def test_compose_topics_job_creates_the_topics(kafka_bootstrap: str) -> None:
    """The one-shot `kafka-topics` service's command, run here against the test Kafka."""
    service = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"]["kafka-topics"]
    command = service["command"]
    assert command[:2] == ["python", "-c"]
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    result = subprocess.run(
        [sys.executable, "-c", command[2]],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_services_stop_cleanly(stack: Stack) -> None:
    """SIGTERM ends each service well within the grace period the manifests give it, after its
    orderly shutdown. uvicorn re-raises the captured SIGTERM once it has shut down, so the exit
    status is -SIGTERM (or 0), never a SIGKILL."""
    for name, proc in stack.services.items():
        started = time.monotonic()
        code = proc.stop()
        elapsed = time.monotonic() - started
        assert code in (0, -signal.SIGTERM), f"{name} exited {code}:\n{proc.log_tail()}"
        assert elapsed < STOP_GRACE_S - 5, f"{name} took {elapsed:.1f} s to stop"
        assert '"service stopped"' in proc.log.read_text(), f"{name}:\n{proc.log_tail()}"
