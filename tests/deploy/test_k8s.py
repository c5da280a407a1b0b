"""The Kubernetes manifests, validated offline: every overlay builds with kustomize; built-in kinds
pass `kubernetes-validate --strict` for 1.32; custom resources pass the schemas in deploy/schemas/;
and the manifests agree with the code (topics, settings, consumer groups, rules, config files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # (types-jsonschema not installed)
import kubernetes_validate
import pytest
import yaml

from planwatch.infra import acls, k8s_files
from planwatch.mongo_users import load_users
from services.ingest.config import IngestSettings
from services.notify.config import NotifySettings
from services.scoring.config import ScoringSettings
from shared import topics
from shared.runtime.settings import KafkaSettings, ServiceSettings
from tests.deploy.k8s_build import (
    KustomizeError,
    Resource,
    kustomize,
    named,
    of_kind,
    overlay,
    pod_spec,
)
from tests.deploy.paths import (
    DASHBOARDS_DIR,
    K8S_DIR,
    OVERLAYS,
    PROMETHEUS_RULE,
    REPO,
    RULES_FILE,
    SCHEMAS_DIR,
)
from tests.deploy.project import project_scripts, typer_commands, unknown_settings_env

K8S_VERSION = "1.32.0"
SERVICES: dict[str, type[ServiceSettings]] = {
    "ingest": IngestSettings,
    "scoring": ScoringSettings,
    "notify": NotifySettings,
}
SECRET_EXAMPLE = K8S_DIR / "secret.example.yaml"


def _schema(kind: str) -> dict[str, Any]:
    path = SCHEMAS_DIR / f"{kind.lower()}.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def _validate_custom(resource: Resource) -> None:
    schema = _schema(resource["kind"])
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(resource)


def _is_builtin(resource: Resource) -> bool:
    try:
        kubernetes_validate.validate(resource, K8S_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return False
    return True


# --- building and validating --------------------------------------------------------------------


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_builds(name: str) -> None:
    kinds = {r["kind"] for r in overlay(name)}
    assert {"Deployment", "Service", "ConfigMap", "NetworkPolicy", "CronJob", "KafkaTopic"} <= kinds


@pytest.mark.parametrize("name", OVERLAYS)
def test_overlay_validates(name: str) -> None:
    """Built-in kinds strictly against Kubernetes 1.32; every other kind against our schema."""
    custom: set[str] = set()
    for resource in overlay(name):
        label = f"{resource['kind']}/{resource['metadata']['name']}"
        try:
            if not _is_builtin(resource):
                assert (SCHEMAS_DIR / f"{resource['kind'].lower()}.json").is_file(), (
                    f"{label}: neither a built-in kind nor covered by deploy/schemas/"
                )
                _validate_custom(resource)
                custom.add(resource["kind"])
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
            pytest.fail(f"{name}: {label} is invalid: {exc}")
    assert {"KafkaTopic", "KafkaUser", "PodMonitor", "PrometheusRule"} <= custom


def test_every_overlay_component_and_schema_is_exercised() -> None:
    kinds = {r["kind"] for name in OVERLAYS for r in overlay(name)}
    schemas = {path.stem for path in SCHEMAS_DIR.glob("*.json")}
    assert schemas <= {kind.lower() for kind in kinds}, "a schema no overlay uses"
    used: set[str] = set()
    for name in OVERLAYS:
        document = yaml.safe_load((K8S_DIR / "overlays" / name / "kustomization.yaml").read_text())
        used |= {Path(c).name for c in document.get("components", [])}
    assert used == {path.name for path in (K8S_DIR / "components").iterdir() if path.is_dir()}


def test_the_validators_reject_bad_resources() -> None:
    deployment = json.loads(json.dumps(named(overlay("prod"), "Deployment", "planwatch-ingest")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["bogus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    topic = json.loads(json.dumps(of_kind(overlay("prod"), "KafkaTopic")[0]))
    topic["spec"]["partitions"] = "6"
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(topic)
    user = json.loads(json.dumps(of_kind(overlay("prod"), "KafkaUser")[0]))
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Write", "Fly"]
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(user)


def test_a_broken_kustomization_fails_to_build(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    with pytest.raises(RuntimeError, match="kustomize"):
        kustomize(tmp_path)


def test_the_build_loads_nothing_outside_a_kustomization(tmp_path: Path) -> None:
    """The overlays build with kustomize's default load restrictor (as `kubectl apply -k` and
    Argo CD do): a file outside the kustomization's folder is refused."""
    (tmp_path / "outside.txt").write_text("x\n")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: c\n    files: [../outside.txt]\n"
    )
    with pytest.raises(KustomizeError, match="not in or below"):
        kustomize(inner)


def test_the_copies_inside_deploy_k8s_are_in_step_with_their_sources() -> None:
    assert k8s_files.stale() == [], "run `python -m planwatch.infra.k8s_files render`"


def test_a_stale_copy_is_found(tmp_path: Path) -> None:
    k8s_files.write(tmp_path)
    assert k8s_files.stale(tmp_path) == []
    copy = tmp_path / "base/files/planwatch-routing/routing.yaml"
    copy.write_text(copy.read_text() + "# edited\n")
    (tmp_path / "components/monitoring/dashboards/planwatch-dashboards/old.json").write_text("{}")
    assert k8s_files.stale(tmp_path) == [
        "base/files/planwatch-routing/routing.yaml",
        "components/monitoring/dashboards/planwatch-dashboards/old.json",
    ]


def test_secret_example_is_valid_and_not_deployed() -> None:
    for secret in yaml.safe_load_all(SECRET_EXAMPLE.read_text(encoding="utf-8")):
        kubernetes_validate.validate(secret, K8S_VERSION, strict=True)
    for kustomization in K8S_DIR.rglob("kustomization.yaml"):
        assert "secret.example" not in kustomization.read_text()
    for name in OVERLAYS:
        assert not of_kind(overlay(name), "Secret"), "real Secrets are created by hand"


# --- agreement with the code --------------------------------------------------------------------


@pytest.mark.parametrize("name", OVERLAYS)
def test_strimzi_topics_match_shared_topics_exactly(name: str) -> None:
    strimzi = of_kind(overlay(name), "KafkaTopic")
    declared = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in strimzi}
    assert declared == dict(topics.PARTITIONS)
    # The configurations shared/topics.py sets at creation (the decompression bound) are the
    # KafkaTopics' too.
    for topic in strimzi:
        wanted = topics.CONFIGS.get(topic["spec"]["topicName"], {})
        config = {k: str(v) for k, v in topic["spec"]["config"].items()}
        assert {k: config.get(k) for k in wanted} == dict(wanted), topic["spec"]["topicName"]
    retention = {
        t["spec"]["topicName"]: t["spec"]["config"]["retention.ms"]
        for t in of_kind(overlay(name), "KafkaTopic")
    }
    dead_letter = {n for n in retention if n.endswith(".dlt")}
    assert dead_letter == {topics.PROGRESS_DLT, topics.SCORING_DLT, topics.NOTIFICATIONS_DLT}
    assert min(retention[n] for n in dead_letter) > max(
        retention[n] for n in retention if n not in dead_letter
    )


def test_topic_replication_per_overlay() -> None:
    for topic in of_kind(overlay("prod"), "KafkaTopic"):
        assert topic["spec"]["replicas"] == 3
        assert topic["spec"]["config"]["min.insync.replicas"] == 2
    for topic in of_kind(overlay("dev"), "KafkaTopic"):
        assert topic["spec"]["replicas"] == 1
        assert topic["spec"]["config"]["min.insync.replicas"] == 1


def _container_env(resources: tuple[Resource, ...], container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as Kubernetes would set it (Secrets: a placeholder)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            data = named(resources, "ConfigMap", source["configMapRef"]["name"])["data"]
            env.update(data)
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item["valueFrom"]:
            env[item["name"]] = f"secret:{item['valueFrom']['secretKeyRef']['name']}"
    return env


@pytest.mark.parametrize("name", OVERLAYS)
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_settings_from_the_manifest(
    name: str, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service's own settings class, fed the Deployment's environment, listens where the
    probes, Service and PodMonitor look, and uses the Kafka user and group the ACLs allow."""
    resources = overlay(name)
    deployment = named(resources, "Deployment", f"planwatch-{service}")
    container = pod_spec(deployment)["containers"][0]
    for key, value in _container_env(resources, container).items():
        monkeypatch.setenv(key, value)
    settings = SERVICES[service]()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert settings.http.host == "0.0.0.0"
    assert ports == {"http": settings.http.port, "management": settings.management_port}
    svc = named(resources, "Service", f"planwatch-{service}")
    # The Service exposes the authenticated port only; probes use the management port.
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "management", probe
    # Bearer tokens from a configured issuer; never dev mode (it would refuse 0.0.0.0).
    assert settings.auth.mode == "jwt" and settings.auth.issuer and settings.auth.jwks_url
    assert settings.kafka.bootstrap_servers == "planwatch-kafka-bootstrap:9092"
    # Each service its own MongoDB user (deploy/mongodb/users.yaml); ingest's key registry
    # writes go through the key administrator's.
    assert settings.mongo.uri.get_secret_value() == f"secret:planwatch-mongodb-{service}"
    if isinstance(settings, IngestSettings):
        admin = settings.key_admin_mongo().uri.get_secret_value()
        assert admin == "secret:planwatch-mongodb-keyadmin"
    password = settings.kafka.sasl_password.get_secret_value()
    assert password == f"secret:{settings.kafka.sasl_username}"
    user = named(resources, "KafkaUser", settings.kafka.sasl_username)
    acls = user["spec"]["authorization"]["acls"]
    readable = {a["resource"]["name"] for a in acls if "Read" in a["operations"]}
    assert settings.input_topic in readable  # type: ignore[attr-defined]
    assert settings.group_id in readable  # type: ignore[attr-defined]
    assert pod_spec(deployment)["terminationGracePeriodSeconds"] > settings.graceful_timeout_s + 5
    env = _container_env(resources, container)
    assert unknown_settings_env(SERVICES[service], f"{service.upper()}_", env) == set()
    # The catalog / routing file the settings point at is where a ConfigMap is mounted.
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
    configured = {
        field: Path(str(getattr(settings, field)))
        for field in ("catalog_dir", "routing_file")
        if str(getattr(settings, field, "")).startswith("/etc/planwatch")
    }
    assert configured, f"{service} reads neither a mounted catalog nor routing file"
    for path in configured.values():
        folder = str(path) if path.suffix == "" else str(path.parent)
        assert "configMap" in volumes[mounts[folder]], f"{service}: {path} is not a ConfigMap"


@pytest.mark.parametrize("name", OVERLAYS)
def test_workloads_are_hardened(name: str) -> None:
    workloads = of_kind(overlay(name), "Deployment") + of_kind(overlay(name), "CronJob")
    assert len(workloads) == 5  # three services, the tick and the monthly report
    for workload in workloads:
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert context["seccompProfile"]["type"] == "RuntimeDefault"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])
            assert "memory" in container["resources"]["limits"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
            assert container["command"][0] in project_scripts()
        labels = (
            workload["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
            if workload["kind"] == "CronJob"
            else workload["spec"]["template"]["metadata"]["labels"]
        )
        assert labels["app.kubernetes.io/part-of"] == "planwatch"  # the NetworkPolicies' selector


@pytest.mark.parametrize("name", OVERLAYS)
def test_deployments_probe_and_leave_replicas_to_the_autoscaler(name: str) -> None:
    for deployment in of_kind(overlay(name), "Deployment"):
        assert "replicas" not in deployment["spec"]
        container = pod_spec(deployment)["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        startup = container["startupProbe"]
        # The services retry their start-up for up to 120 s before uvicorn serves /livez.
        assert startup["periodSeconds"] * startup["failureThreshold"] > 120
        selector = deployment["spec"]["selector"]["matchLabels"]
        pdbs = [
            p
            for p in of_kind(overlay(name), "PodDisruptionBudget")
            if p["spec"]["selector"]["matchLabels"] == selector
        ]
        assert len(pdbs) == 1 and pdbs[0]["spec"]["maxUnavailable"] == 1


def test_tick_cronjob_runs_planwatch_tick() -> None:
    cronjob = named(overlay("prod"), "CronJob", "planwatch-tick")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    command = pod_spec(cronjob)["containers"][0]["command"]
    assert command == ["planwatch", "tick"]
    tick_user = named(overlay("prod"), "KafkaUser", "planwatch-tick")
    (acl,) = tick_user["spec"]["authorization"]["acls"]
    assert acl["resource"]["name"] == topics.CLOCK and "Write" in acl["operations"]
    assert "tick" in typer_commands()


def test_tick_cronjob_authenticates_as_the_tick_user(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = overlay("prod")
    container = pod_spec(named(resources, "CronJob", "planwatch-tick"))["containers"][0]
    for key, value in _container_env(resources, container).items():
        monkeypatch.setenv(key, value)
    settings = KafkaSettings()  # what `planwatch tick` reads
    assert settings.sasl_username == "planwatch-tick"
    assert settings.sasl_password.get_secret_value() == "secret:planwatch-tick"
    assert settings.bootstrap_servers == "planwatch-kafka-bootstrap:9092"


@pytest.mark.parametrize("name", OVERLAYS)
def test_report_cronjob_mails_the_monthly_pdf_through_notify(name: str) -> None:
    """Monthly, in CST: `planwatch report` of the stored reports (the read-only MongoDB user),
    as a PDF (the image with chromium), sent to a receiver of the routing file with an e-mail
    integration, through notify's Service, which the report's pods may reach."""
    resources = overlay(name)
    cronjob = named(resources, "CronJob", "planwatch-report")
    assert (cronjob["spec"]["schedule"], cronjob["spec"]["timeZone"]) == (
        "0 8 1 * *",
        "Asia/Shanghai",
    )
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    container = pod_spec(cronjob)["containers"][0]
    assert container["image"].split("/")[-1].startswith("planwatch-report:")
    command = container["command"]
    assert command[:2] == ["planwatch", "report"] and "report" in typer_commands()
    options = dict(a.removeprefix("--").split("=", 1) for a in command[2:] if "=" in a)
    assert {"from-mongodb", "pdf"} <= {a.removeprefix("--") for a in command[2:]}
    assert (options["at"], options["since"]) == ("yesterday", "month")
    routing = yaml.safe_load((REPO / "services/notify/routing.yaml").read_text(encoding="utf-8"))
    receivers = {r["name"]: r for r in routing["receivers"]}
    assert receivers[options["send-to"]]["email_configs"], "the receiver must have e-mail"
    notify = named(resources, "Service", "planwatch-notify")
    (port,) = notify["spec"]["ports"]
    assert options["url"] == f"http://planwatch-notify:{port['port']}"
    env = _container_env(resources, container)
    assert env["MONGODB_URI"] == "secret:planwatch-mongodb-report"
    assert env["PLANWATCH_TOKEN_FILE"].startswith("/etc/planwatch/token/")
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts[options["catalog"]] == "catalog"
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(resources, "NetworkPolicy")}
    inbound = policies["planwatch-allow-report-to-notify"]["ingress"][0]
    assert inbound["from"][0]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "planwatch-report"
    }
    outbound = policies["planwatch-allow-report-egress"]["egress"][0]
    assert outbound["ports"] == [{"protocol": "TCP", "port": port["port"]}]


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_dashboard_reaches_notify_for_acknowledgements(name: str) -> None:
    """Scoring relays the dashboard's acknowledgements to notify's API: its URL names notify's
    Service port, and the network policies let scoring's pods reach it."""
    resources = overlay(name)
    notify = named(resources, "Service", "planwatch-notify")
    (port,) = notify["spec"]["ports"]
    scoring = named(resources, "Deployment", "planwatch-scoring")
    (container,) = scoring["spec"]["template"]["spec"]["containers"]
    env = _container_env(resources, container)
    assert env["SCORING_NOTIFY_URL"] == f"http://planwatch-notify:{port['port']}"
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(resources, "NetworkPolicy")}
    sources = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for peer in policies["planwatch-allow-report-to-notify"]["ingress"][0]["from"]
    ]
    assert "planwatch-scoring" in sources
    outbound = policies["planwatch-allow-scoring-to-notify"]["egress"][0]
    assert outbound["ports"] == [{"protocol": "TCP", "port": port["port"]}]


def _scale_targets(resources: tuple[Resource, ...]) -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    for kind in ("ScaledObject", "HorizontalPodAutoscaler"):
        for resource in of_kind(resources, kind):
            targets.setdefault(resource["spec"]["scaleTargetRef"]["name"], []).append(kind)
    return targets


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_consumer_has_exactly_one_autoscaler(name: str) -> None:
    assert _scale_targets(overlay(name)) == {
        f"planwatch-{s}": [k]
        for s in SERVICES
        for k in ["ScaledObject" if name == "prod" else "HorizontalPodAutoscaler"]
    }


def test_keda_scales_on_the_right_group_and_at_most_to_the_partitions() -> None:
    for scaled in of_kind(overlay("prod"), "ScaledObject"):
        service = scaled["spec"]["scaleTargetRef"]["name"].removeprefix("planwatch-")
        settings = SERVICES[service]()
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert meta["consumerGroup"] == settings.group_id  # type: ignore[attr-defined]
        assert meta["topic"] == settings.input_topic  # type: ignore[attr-defined]
        assert meta["allowIdleConsumers"] == "false"
        assert scaled["spec"]["minReplicaCount"] >= 1
        assert scaled["spec"]["maxReplicaCount"] <= topics.PARTITIONS[meta["topic"]]
        auth = named(overlay("prod"), "TriggerAuthentication", trigger["authenticationRef"]["name"])
        refs = {ref["parameter"]: ref for ref in auth["spec"]["secretTargetRef"]}
        assert set(refs) == {"sasl", "username", "password", "tls", "ca"}
        # TLS to the SASL_SSL listener, trusting the cluster CA the services mount.
        assert (refs["ca"]["name"], refs["ca"]["key"]) == ("planwatch-cluster-ca-cert", "ca.crt")


def test_hpa_fallback_is_capped_at_the_partitions() -> None:
    for hpa in of_kind(overlay("dev"), "HorizontalPodAutoscaler"):
        service = hpa["spec"]["scaleTargetRef"]["name"].removeprefix("planwatch-")
        topic = SERVICES[service]().input_topic  # type: ignore[attr-defined]
        assert hpa["spec"]["maxReplicas"] <= topics.PARTITIONS[topic]


def test_kafka_acls_are_least_privilege() -> None:
    users = {u["metadata"]["name"]: u for u in of_kind(overlay("prod"), "KafkaUser")}
    agencies = [u for n, u in users.items() if n.startswith("agency-")]
    assert agencies, "at least one example agency user"
    for user in agencies:
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl["resource"] == {
                "type": "topic",
                "name": topics.PROGRESS,
                "patternType": "literal",
            }
            assert set(acl["operations"]) <= {"Write", "Describe"}
    writes = {
        name: {
            a["resource"]["name"]
            for a in user["spec"]["authorization"]["acls"]
            if "Write" in a["operations"]
        }
        for name, user in users.items()
    }
    # The HTTP door publishes to planwatch.progress: ingest must write it (issue #14).
    assert writes["planwatch-ingest"] == {topics.ACCEPTED, topics.PROGRESS_DLT, topics.PROGRESS}
    assert writes["planwatch-scoring"] == {
        topics.SCORES,
        topics.ALERTS,
        topics.SCORING_DLT,
        topics.SCORING_CLOCK,
    }
    assert writes["planwatch-notify"] == {
        topics.NOTIFICATIONS,
        topics.NOTIFICATIONS_DLT,
        topics.NOTIFY_GROUPS,
    }
    assert writes["planwatch-keda"] == set()
    for user in users.values():
        for acl in user["spec"]["authorization"]["acls"]:
            assert "All" not in acl["operations"]
            assert acl["resource"]["type"] != "cluster"


def test_kafka_users_are_generated_from_the_acl_source() -> None:
    """deploy/kafka-acls.yaml is the one source: the checked-in KafkaUsers are its rendering."""
    source = acls.load()
    assert acls.stale_manifests(source) == [], "run `python -m planwatch.infra.acls render`"
    users = {u["metadata"]["name"] for u in of_kind(overlay("prod"), "KafkaUser")}
    assert users == set(source.principals)


def _granted(source: acls.AclSource, principal: str, kind: str, name: str) -> set[str]:
    ops: set[str] = set()
    for b in acls.bindings(source, [principal]):
        matches = (
            b.resource_name == name if b.pattern == "literal" else name.startswith(b.resource_name)
        )
        if b.resource_type == kind and matches:
            ops.add(b.operation)
    return ops


def test_acl_source_grants_what_each_service_uses() -> None:
    """What the services read, write and join (their default settings) is granted, Read and
    Write each on exactly the topics that need it."""
    source = acls.load()
    ingest, scoring, notify = IngestSettings(), ScoringSettings(), NotifySettings()
    needs = {
        "planwatch-ingest": (
            [ingest.input_topic],
            [ingest.input_topic, ingest.accepted_topic, ingest.dead_letter_topic],
            [ingest.group_id],
        ),
        "planwatch-scoring": (
            [scoring.input_topic, scoring.clock_topic, scoring.sync_topic],
            [scoring.sync_topic, scoring.scores_topic, scoring.alerts_topic, scoring.dlt_topic],
            [scoring.group_id],
        ),
        "planwatch-notify": (
            [notify.input_topic, notify.groups_topic],
            [notify.groups_topic, notify.notifications_topic, notify.dlt_topic],
            [notify.group_id, f"{notify.group_id}.groups"],
        ),
    }
    for principal, (reads, writes, groups) in needs.items():
        for topic in topics.PARTITIONS:
            ops = _granted(source, principal, "topic", topic)
            assert ("Read" in ops) == (topic in reads), (principal, topic, ops)
            assert ("Write" in ops) == (topic in writes), (principal, topic, ops)
            assert "Describe" in ops or "Read" in ops, (principal, topic)
        for group in groups:
            assert "Read" in _granted(source, principal, "group", group), (principal, group)


def _site(name: str) -> dict[str, str]:
    """The overlay's local ConfigMap planwatch-site (read by the components, never deployed)."""
    document = yaml.safe_load((K8S_DIR / "overlays" / name / "site.yaml").read_text())
    assert document["metadata"]["annotations"]["config.kubernetes.io/local-config"] == "true"
    data: dict[str, str] = document["data"]
    return data


def _with_runbook_base(groups: list[dict[str, Any]], base: str) -> list[dict[str, Any]]:
    """The groups with every runbook_url's part before `/docs/` replaced by `base`."""
    copied: list[dict[str, Any]] = json.loads(json.dumps(groups))
    for group in copied:
        for rule in group["rules"]:
            annotations = rule.get("annotations", {})
            if "runbook_url" in annotations:
                _, rest = annotations["runbook_url"].split("/docs/", 1)
                annotations["runbook_url"] = f"{base}/docs/{rest}"
    return copied


def test_prometheus_rule_is_rendered_from_rules_yml() -> None:
    """The committed PrometheusRule holds rules.yml's groups; each overlay's has its own
    runbook base (site.yaml) and nothing else changed."""
    source = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    committed = yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))
    assert committed["spec"]["groups"] == source
    for name in OVERLAYS:
        base = _site(name)["runbook-base-url"]
        assert base.startswith("https://") and "/docs/" not in base
        (rule,) = of_kind(overlay(name), "PrometheusRule")
        assert rule["spec"]["groups"] == _with_runbook_base(source, base)
        urls = [
            r["annotations"]["runbook_url"]
            for group in rule["spec"]["groups"]
            for r in group["rules"]
            if "alert" in r
        ]
        assert urls and all(url.startswith(f"{base}/docs/deploy.md#alert-") for url in urls)
    assert _site("dev")["runbook-base-url"] != _site("prod")["runbook-base-url"]


# The public names: Ingress -> (site.yaml key of its host, the Service it sends to).
INGRESSES = {
    "planwatch-dashboard": ("dashboard-host", "planwatch-scoring"),
    "planwatch-api": ("api-host", "planwatch-scoring"),
    "planwatch-notify": ("notify-host", "planwatch-notify"),
    "planwatch-ingest": ("ingest-host", "planwatch-ingest"),
}


@pytest.mark.parametrize("name", OVERLAYS)
def test_ingresses_serve_each_public_name_over_tls(name: str) -> None:
    resources = overlay(name)
    site = _site(name)
    ingresses = {i["metadata"]["name"]: i for i in of_kind(resources, "Ingress")}
    assert set(ingresses) == set(INGRESSES)
    for ingress_name, (host_key, service_name) in INGRESSES.items():
        spec = ingresses[ingress_name]["spec"]
        assert spec["ingressClassName"] == site["ingress-class"]
        (rule,) = spec["rules"]
        assert rule["host"] == site[host_key]
        assert spec["tls"] == [{"hosts": [site[host_key]], "secretName": site["tls-secret"]}]
        (path,) = rule["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/", "Prefix")
        backend = path["backend"]["service"]
        assert backend["name"] == service_name
        service = named(resources, "Service", service_name)
        assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
        # The controller's namespace may reach the pods' http port.
        service_id = service_name.removeprefix("planwatch-")
        policy = named(resources, "NetworkPolicy", f"planwatch-allow-{service_id}-http")
        (allowed,) = policy["spec"]["ingress"]
        assert allowed["from"] == [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": site["ingress-namespace"]}
                }
            }
        ]
        assert allowed["ports"] == [{"protocol": "TCP", "port": "http"}]
    hosts = [site[key] for key, _ in INGRESSES.values()]
    assert len(set(hosts)) == len(hosts)
    assert not any(".invalid" in h or "set-in" in h for h in (*hosts, *site.values()))
    # The door accepts a whole batch: ingest answers an oversized one itself.
    annotations = ingresses["planwatch-ingest"]["metadata"]["annotations"]
    limit = annotations["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert limit.endswith("m") and int(limit[:-1]) * 1024 * 1024 > IngestSettings().max_batch_bytes
    # People sign in to the dashboard; the APIs take the callers' bearer tokens as they come.
    signin = ingresses["planwatch-dashboard"]["metadata"]["annotations"]
    assert signin["nginx.ingress.kubernetes.io/auth-response-headers"] == "Authorization"
    for api in ("planwatch-api", "planwatch-notify", "planwatch-ingest"):
        assert not any(
            "auth-url" in key for key in ingresses[api]["metadata"].get("annotations", {})
        )


def test_the_sites_differ_and_the_tls_secret_is_documented() -> None:
    dev, prod = _site("dev"), _site("prod")
    assert {dev[k] for k, _ in INGRESSES.values()}.isdisjoint(
        prod[k] for k, _ in INGRESSES.values()
    )
    examples = {
        d["metadata"]["name"]: d for d in yaml.safe_load_all(SECRET_EXAMPLE.read_text()) if d
    }
    doc = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    for site in (dev, prod):
        secret = examples[site["tls-secret"]]
        assert secret["type"] == "kubernetes.io/tls"
        assert {"tls.crt", "tls.key"} == set(secret["stringData"])
        assert f"create secret tls {site['tls-secret']}" in doc


def test_configmaps_hold_the_repo_files() -> None:
    resources = overlay("prod")
    catalog = {
        r["metadata"]["name"].rsplit("-", 1)[0]: r
        for r in of_kind(resources, "ConfigMap")
        if r["metadata"]["name"].startswith(("planwatch-catalog", "planwatch-routing"))
    }
    plans = sorted((REPO / "shared/catalog/plans").glob("*.yaml"))
    assert catalog["planwatch-catalog"]["data"] == {p.name: p.read_text() for p in plans}
    routing = REPO / "services/notify/routing.yaml"
    assert catalog["planwatch-routing"]["data"] == {"routing.yaml": routing.read_text()}
    dashboards = named(resources, "ConfigMap", "planwatch-dashboards")
    assert dashboards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboards["data"] == {p.name: p.read_text() for p in DASHBOARDS_DIR.glob("*.json")}


@pytest.mark.parametrize("name", OVERLAYS)
def test_references_resolve(name: str) -> None:
    """Every ConfigMap and Secret a pod uses exists: built here, made by Strimzi for a KafkaUser
    or the cluster (its CA), or documented in secret.example.yaml (the operator's, like the
    clock's keys); every ServiceAccount exists."""
    resources = overlay(name)
    configmaps = {r["metadata"]["name"] for r in of_kind(resources, "ConfigMap")}
    users = of_kind(resources, "KafkaUser")
    secrets = {u["metadata"]["name"] for u in users}
    # Strimzi's Cluster Operator makes `<cluster>-cluster-ca-cert` for the Kafka cluster.
    secrets |= {f"{u['metadata']['labels']['strimzi.io/cluster']}-cluster-ca-cert" for u in users}
    examples = [d for d in yaml.safe_load_all(SECRET_EXAMPLE.read_text()) if d]
    secrets |= {d["metadata"]["name"] for d in examples if d["kind"] == "Secret"}
    configmaps |= {d["metadata"]["name"] for d in examples if d["kind"] == "ConfigMap"}
    accounts = {r["metadata"]["name"] for r in of_kind(resources, "ServiceAccount")}
    for workload in of_kind(resources, "Deployment") + of_kind(resources, "CronJob"):
        spec = pod_spec(workload)
        assert spec["serviceAccountName"] in accounts
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                assert volume["configMap"]["name"] in configmaps
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, volume
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
                if "secretRef" in source:
                    assert source["secretRef"]["name"] in secrets
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in secrets, f"{workload['metadata']['name']}: {ref}"
                ref = item.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    assert ref["name"] in configmaps, f"{workload['metadata']['name']}: {ref}"
    for auth in of_kind(resources, "TriggerAuthentication"):
        for ref in auth["spec"]["secretTargetRef"]:
            assert ref["name"] in secrets


@pytest.mark.parametrize("name", OVERLAYS)
def test_network_policies(name: str) -> None:
    policies = {p["metadata"]["name"]: p for p in of_kind(overlay(name), "NetworkPolicy")}
    deny = policies["planwatch-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny and "egress" not in deny
    assert deny["podSelector"] == {"matchLabels": {"app.kubernetes.io/part-of": "planwatch"}}
    dns = policies["planwatch-allow-dns"]["spec"]["egress"][0]["ports"]
    assert {(p["protocol"], p["port"]) for p in dns} == {("UDP", 53), ("TCP", 53)}
    kafka = policies["planwatch-allow-kafka"]["spec"]["egress"][0]["ports"]
    assert {p["port"] for p in kafka} == {9092}
    mongo = policies["planwatch-allow-mongodb"]["spec"]
    assert {p["port"] for p in mongo["egress"][0]["ports"]} == {27017}
    assert set(mongo["podSelector"]["matchExpressions"][0]["values"]) == {
        f"planwatch-{s}" for s in SERVICES
    } | {"planwatch-mongodb-users", "planwatch-report"}
    scrape = policies["planwatch-allow-prometheus-scrape"]["spec"]["ingress"][0]["ports"]
    assert [p["port"] for p in scrape] == ["management"]
    # The authenticated ports: ingest, scoring and notify from the ingress controller only.
    for service in ("ingest", "scoring", "notify"):
        spec = policies[f"planwatch-allow-{service}-http"]["spec"]
        assert [p["port"] for p in spec["ingress"][0]["ports"]] == ["http"]
        assert spec["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "ingress-nginx"
        }
    management_open = [
        name
        for name, policy in policies.items()
        for rule in policy["spec"].get("ingress", [])
        if any(p["port"] == "management" for p in rule.get("ports", []))
    ]
    assert management_open == ["planwatch-allow-prometheus-scrape"]
    notify = policies["planwatch-allow-notify-delivery"]["spec"]["egress"][0]
    assert "10.0.0.0/8" in notify["to"][0]["ipBlock"]["except"]
    assert {443, 587} <= {p["port"] for p in notify["ports"]}


@pytest.mark.parametrize("name", OVERLAYS)
def test_pod_monitors_scrape_each_service_as_its_job(name: str) -> None:
    resources = overlay(name)
    monitors = of_kind(resources, "PodMonitor")
    assert len(monitors) == len(SERVICES)
    for monitor in monitors:
        spec = monitor["spec"]
        deployment = named(resources, "Deployment", monitor["metadata"]["name"])
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        # The job label comes from this pod label: planwatch-<service>, as the rules expect.
        assert labels[spec["jobLabel"]] == monitor["metadata"]["name"]
        port_names = {p["name"] for p in pod_spec(deployment)["containers"][0]["ports"]}
        assert {e["port"] for e in spec["podMetricsEndpoints"]} <= port_names
        assert {e["path"] for e in spec["podMetricsEndpoints"]} == {"/metrics"}


@pytest.mark.parametrize("name", OVERLAYS)
def test_mongodb_users_job_runs_the_generated_script(name: str) -> None:
    """The Job creates the users of deploy/mongodb/users.yaml with the checked-in script,
    passwords from Secrets as files (never in the manifest), hardened like the services."""
    resources = overlay(name)
    job = named(resources, "Job", "planwatch-mongodb-users")
    spec = pod_spec(job)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] in {
        r["metadata"]["name"] for r in of_kind(resources, "ServiceAccount")
    }
    container = spec["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    script = next(
        c
        for c in of_kind(resources, "ConfigMap")
        if c["metadata"]["name"].startswith("planwatch-mongodb-users")
    )
    assert (
        script["data"]["create-users.js"] == (REPO / "deploy/mongodb/create-users.js").read_text()
    )
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert (
        volumes[mounts["/etc/planwatch/mongodb"]]["configMap"]["name"] == script["metadata"]["name"]
    )
    env = {e["name"]: e.get("value") for e in container["env"]}
    documented = {
        s["metadata"]["name"]: s for s in yaml.safe_load_all(SECRET_EXAMPLE.read_text()) if s
    }
    for user in load_users().users:
        path = Path(str(env[user.password_file_env]))
        assert user.password_env not in env
        secret = volumes[mounts[str(path.parent)]]["secret"]["secretName"]
        assert path.name in documented[secret]["stringData"]
        # Each user's connection string is documented and used by its workload.
        assert f"planwatch-mongodb-{user.user.removeprefix('planwatch-')}" in documented
    admin = Path(str(env["PLANWATCH_MONGO_ADMIN_URI_FILE"]))
    assert volumes[mounts[str(admin.parent)]]["secret"]["secretName"] == "planwatch-mongodb-admin"
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "planwatch"
