"""docker-compose.yml, validated offline: the Compose Specification schema plus the references
the schema cannot see (services, volumes, configs, secrets, files mounted from the repo), and the
services' own settings as the compose environment configures them."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from planwatch.mongo_users import dev_secret_files, load_users, write_dev_secrets
from services.ingest.config import IngestSettings
from services.notify.config import NotifySettings
from services.notify.routing_file import load_routing_file
from services.notify.secrets import unresolved_secrets
from services.scoring.config import ScoringSettings
from shared.runtime.settings import ServiceSettings
from tests.deploy.paths import COMPOSE_FILE, REPO
from tests.deploy.project import project_scripts, typer_commands, unknown_settings_env

SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    "ingest": IngestSettings,
    "scoring": ScoringSettings,
    "notify": NotifySettings,
}


DEV_SECRETS = set(dev_secret_files(load_users()))


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return document


def services() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose()["services"]
    return result


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: {"condition": "service_started"} for name in deps}
    return dict(deps)


def test_compose_spec_schema() -> None:
    check = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  a:\n    image: x\n    ports: {oops: 1}\n")
    check = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.compose-spec", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0


def test_depends_on_targets_exist_and_conditions_hold() -> None:
    all_services = services()
    for name, service in all_services.items():
        for target, spec in _depends_on(service).items():
            assert target in all_services, f"{name} depends on unknown service {target!r}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in all_services[target], f"{target} has no healthcheck"
            if condition == "service_completed_successfully":
                assert all_services[target].get("restart", "no") == "no"
            # A service that always starts must not wait for one that only a profile starts.
            if not service.get("profiles"):
                assert not all_services[target].get("profiles"), f"{name} -> {target}"


def test_depends_on_has_no_cycle() -> None:
    graph = {name: set(_depends_on(s)) for name, s in services().items()}
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"dependency cycle: {' -> '.join((*path, node))}"
        if node in done:
            return
        for child in graph[node]:
            visit(child, (*path, node))
        done.add(node)

    for node in graph:
        visit(node, ())


def test_volumes_configs_secrets_and_mounted_files_exist() -> None:
    document = compose()
    named_volumes = set(document.get("volumes") or {})
    for kind in ("configs", "secrets"):
        for name, spec in (document.get(kind) or {}).items():
            if "file" in spec:
                if spec["file"].startswith("./.secrets/"):  # made by `mongo-users dev-secrets`
                    assert spec["file"].removeprefix("./.secrets/") in DEV_SECRETS, name
                    continue
                assert (REPO / spec["file"]).exists(), f"{kind} {name}: {spec['file']} missing"
    for name, service in services().items():
        for kind in ("configs", "secrets"):
            for ref in service.get(kind, []):
                ref_name = ref if isinstance(ref, str) else ref["source"]
                assert ref_name in (document.get(kind) or {}), f"{name}: unknown {kind} {ref_name}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                assert (REPO / source).resolve().exists(), f"{name} mounts missing {source}"
                assert (REPO / source).resolve().is_relative_to(REPO)
            else:
                assert source in named_volumes, f"{name} uses undeclared volume {source!r}"


def test_published_ports_are_loopback_only() -> None:
    for name, service in services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_planwatch_containers_are_hardened() -> None:
    for name, service in services().items():
        if service.get("image") != "planwatch:local":
            continue
        assert service.get("build", {}).get("dockerfile") == "Dockerfile"
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]
        assert not str(service["user"]).startswith("0"), f"{name} runs as root"
        assert service["cap_drop"] == ["ALL"]


def test_commands_exist_in_the_project() -> None:
    scripts = project_scripts()
    for name, service in services().items():
        if service.get("image") != "planwatch:local":
            continue
        command = service["command"]
        if command[0] == "python":
            continue  # the topics job, run for real by test_compose_topics_job
        assert command[0] in scripts, f"{name}: {command[0]} is not a [project.scripts] entry"
        if command[0] == "planwatch" and command[1:2]:
            assert command[1] in typer_commands(), f"{name}: no `planwatch {command[1]}`"


def _compose_env(
    service: dict[str, Any], monkeypatch: pytest.MonkeyPatch, secrets_dir: Path
) -> None:
    """The service's environment, its /run/secrets/<name> files read from `secrets_dir`, and
    nothing else of the platform's settings (the test run's own KAFKA_* and MONGODB_*, set by
    CI for the integration suite, are not the container's)."""
    for key in list(os.environ):
        if key.startswith(("KAFKA_", "MONGODB_", "PLANWATCH_", "INGEST_", "SCORING_", "NOTIFY_")):
            monkeypatch.delenv(key)
    granted = set(service.get("secrets", []))
    for key, value in service["environment"].items():
        # Compose's `${NAME:-default}` with none of the operator's variables set.
        text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
        if text.startswith("/run/secrets/"):
            secret = text.removeprefix("/run/secrets/")
            assert secret in granted, f"{key} names secret {secret}, not given to the service"
            text = str(
                secrets_dir / compose()["secrets"][secret]["file"].removeprefix("./.secrets/")
            )
        monkeypatch.setenv(key, text)


@pytest.fixture(scope="module")
def dev_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("secrets") / ".secrets"
    write_dev_secrets(load_users(), folder, "mongo:27017")
    return folder


def test_dev_secrets_are_kept_and_private(dev_secrets: Path) -> None:
    assert {p.name for p in dev_secrets.iterdir()} == DEV_SECRETS
    assert dev_secrets.stat().st_mode & 0o777 == 0o700
    before = {p.name: p.read_text() for p in dev_secrets.iterdir()}
    assert write_dev_secrets(load_users(), dev_secrets, "mongo:27017") == []
    assert {p.name: p.read_text() for p in dev_secrets.iterdir()} == before
    assert len({v for k, v in before.items() if k.endswith("-password")}) == len(
        [k for k in before if k.endswith("-password")]
    )


def test_mongo_runs_with_authentication_and_creates_the_users() -> None:
    mongo = services()["mongo"]
    env = mongo["environment"]
    assert env["MONGO_INITDB_ROOT_PASSWORD_FILE"] == "/run/secrets/mongo-root-password"
    assert "MONGO_INITDB_ROOT_PASSWORD" not in env
    assert (
        "./deploy/mongodb/create-users.js:/docker-entrypoint-initdb.d/create-users.js:ro"
        in mongo["volumes"]
    )
    for user in load_users().users:
        path = env[user.password_file_env]
        assert path.removeprefix("/run/secrets/") in mongo["secrets"]
        assert user.password_env not in env


def test_no_mongodb_uri_literal_in_compose() -> None:
    for name, service in services().items():
        env = service.get("environment", {})
        assert "MONGODB_URI" not in env, f"{name}: MONGODB_URI literal; use MONGODB_URI_FILE"


@pytest.mark.parametrize("name", sorted(SERVICE_SETTINGS))
def test_service_settings_from_the_compose_environment(
    name: str, monkeypatch: pytest.MonkeyPatch, dev_secrets: Path
) -> None:
    """The settings class reads the compose environment as intended: listen on all interfaces,
    on the port that is published and health-checked, with the compose Kafka and MongoDB."""
    service = services()[name]
    _compose_env(service, monkeypatch, dev_secrets)
    settings = SERVICE_SETTINGS[name]()
    assert settings.http.host == "0.0.0.0"
    assert service["ports"] == [f"127.0.0.1:{settings.http.port}:{settings.http.port}"]
    health = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{settings.management_port}/readyz" in health
    assert settings.management_port != settings.http.port
    assert settings.auth.mode == "jwt"  # never dev mode in compose (0.0.0.0)
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    uri = settings.mongo.uri.get_secret_value()
    assert uri.startswith(f"mongodb://planwatch-{name}:") and "@mongo:27017/planwatch?" in uri
    if isinstance(settings, IngestSettings):
        admin = settings.key_admin_mongo().uri.get_secret_value()
        assert admin.startswith("mongodb://planwatch-keyadmin:")
    stop = int(service["stop_grace_period"].rstrip("s"))
    assert stop > settings.graceful_timeout_s
    prefix = f"{name.upper()}_"
    assert unknown_settings_env(SERVICE_SETTINGS[name], prefix, service["environment"]) == set()
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}
    for field in ("catalog_dir", "routing_file"):
        path = getattr(settings, field, None)
        if path is not None and str(path).startswith("/etc/planwatch"):
            assert str(path) in mounts, f"{name}.{field}={path} is not mounted"
            assert (REPO / mounts[str(path)]).exists()


def test_notify_mails_through_mailpit(monkeypatch: pytest.MonkeyPatch, dev_secrets: Path) -> None:
    service = services()["notify"]
    _compose_env(service, monkeypatch, dev_secrets)
    settings = NotifySettings()
    smtp = settings.smtp
    assert (smtp.host, smtp.port) == ("mailpit", 1025)
    assert "mailpit" in services()


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    scrape = yaml.safe_load((REPO / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: target
        for job in scrape["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    for name in SERVICE_SETTINGS:
        port = services()[name]["environment"][f"{name.upper()}_MANAGEMENT_PORT"]
        assert targets[f"planwatch-{name}"] == f"{name}:{port}"


def test_notify_routing_in_compose_starts_with_compose_environment() -> None:
    """notify refuses to start with a secret reference it cannot resolve: the routing file
    compose mounts must need none that compose does not set."""
    service = services()["notify"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in service.get("volumes", [])}
    path = REPO / mounts[service["environment"]["NOTIFY_ROUTING_FILE"]]
    config = load_routing_file(path)
    environment = {k: str(v) for k, v in service["environment"].items()}
    assert unresolved_secrets(config, environment) == []


def test_the_report_profile_mails_the_monthly_pdf_through_notify() -> None:
    """`docker compose --profile report run --rm report`: the report image (chromium), hardened,
    reading the stored reports as the read-only MongoDB user, sending to a receiver of compose's
    routing file that has e-mail, through notify's port."""
    report = services()["report"]
    assert report["profiles"] == ["report"] and report["build"]["target"] == "report"
    assert report["read_only"] is True and report["cap_drop"] == ["ALL"]
    assert report["tmpfs"] == ["/tmp"] and not str(report["user"]).startswith("0")
    command = report["command"]
    assert command[:2] == ["planwatch", "report"] and "report" in typer_commands()
    options = dict(itertools.pairwise(command[2:]))
    assert {"--from-mongodb", "--pdf"} <= set(command)
    assert (options["--at"], options["--since"]) == ("yesterday", "month")
    routing = load_routing_file(REPO / "deploy" / "compose" / "routing.yaml")
    receiver = routing.receivers[options["--send-to"]]
    assert any(i.config.type.value == "email" for i in receiver.integrations)
    notify_port = services()["notify"]["environment"]["NOTIFY_HTTP__PORT"]
    assert options["--url"] == f"http://notify:{notify_port}"
    assert report["environment"]["MONGODB_URI_FILE"] == "/run/secrets/mongo-report-uri"
    assert report["secrets"] == ["mongo-report-uri"]
    assert report["depends_on"]["notify"]["condition"] == "service_healthy"
