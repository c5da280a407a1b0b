"""Against a real secured Kafka (SASL_SSL, SCRAM-SHA-512, a local CA, the StandardAuthorizer
with allow.everyone.if.no.acl.found=false): one SCRAM user per service and per agency, with the
ACLs of deploy/kafka-acls.yaml. Its own broker on free ports, so the platform's topic names.
The whole flow runs there: an agency publishes, a webhook is delivered.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer

from planwatch.infra import acls, secure_kafka
from planwatch.infra.manager import Endpoints
from planwatch.infra.ports import free_port
from planwatch.publish_cli import Mode, send_kafka
from planwatch.simulate.agencies import demo_keys, write_keys_file
from shared import topics
from shared.catalog import load_catalog
from shared.contract.events import new_report
from shared.contract.signing import sign
from shared.kafka_admin import ensure_topics
from shared.runtime.kafka_security import KafkaAccessError, check_access, client_options
from shared.runtime.settings import KafkaSettings
from tests.integration.notify_harness import SECRET
from tests.integration.notify_support import HttpReceiver, wait_until
from tests.integration.service_process import ServiceProcess

pytestmark = pytest.mark.integration

PLAN_ID = "qingyuan-digital-economy-2021"
AGENCY = "qy.gov-data"
AGENCY_USER = "agency-qy-gov-data"
# Scoring principals with scoring's ACLs minus one: READ on planwatch.accepted, WRITE on
# planwatch.alerts.
RESTRICTED = "planwatch-scoring-restricted"
NO_WRITE = "planwatch-scoring-no-write"
WITHHELD = {RESTRICTED: (topics.ACCEPTED, "Read"), NO_WRITE: (topics.ALERTS, "Write")}


@pytest_asyncio.fixture(scope="module")
async def broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[secure_kafka.SecureKafka]:
    source = acls.load()
    home = tmp_path_factory.mktemp("secure-kafka")
    kafka = await asyncio.to_thread(
        secure_kafka.start, home, free_port(), free_port(), [*source.principals, *WITHHELD]
    )
    try:
        await secure_kafka.wait_ready(kafka)
        admin = kafka.settings(secure_kafka.ADMIN)
        await ensure_topics(admin, dict(topics.PARTITIONS))
        restricted = [
            acls.Binding(user, b.resource_type, b.resource_name, b.pattern, b.operation)
            for user, withheld in WITHHELD.items()
            for b in acls.bindings(source, ["planwatch-scoring"])
            if (b.resource_name, b.operation) != withheld
        ]
        await acls.create_acls(admin, [*acls.bindings(source), *restricted])
        yield kafka
    finally:
        await asyncio.to_thread(secure_kafka.stop, kafka)


def _service_env(kafka: secure_kafka.SecureKafka, user: str, infra: Endpoints) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    return {**env, **kafka.env(user), "MONGODB_URI": infra.mongodb_uri, "LOG_LEVEL": "INFO"}


async def test_credentials_and_acls_are_enforced(broker: secure_kafka.SecureKafka) -> None:
    agency = broker.settings(AGENCY_USER)
    await check_access(agency)  # it authenticates ...
    with pytest.raises(KafkaAccessError, match="READ of topic"):
        await check_access(agency, read_topics=[topics.PROGRESS])  # ... but may only write
    await check_access(agency, write_topics=[topics.PROGRESS])  # nothing is written to ask
    with pytest.raises(KafkaAccessError, match=rf"WRITE topic\(s\) {topics.ACCEPTED} "):
        await check_access(agency, write_topics=[topics.PROGRESS, topics.ACCEPTED])
    with pytest.raises(KafkaAccessError, match="no DESCRIBE"):  # Kafka hides the rest
        await check_access(agency, write_topics=["planwatch.no-such-topic"])
    scoring = broker.settings("planwatch-scoring")  # DESCRIBE on planwatch.*: told the truth
    with pytest.raises(KafkaAccessError, match="does not exist"):
        await check_access(scoring, write_topics=["planwatch.no-such-topic"])
    wrong = agency.model_copy(update={"sasl_password": agency.sasl_password.__class__("wrong")})
    with pytest.raises(KafkaAccessError, match="refused the credentials"):
        await check_access(wrong)
    untrusted = agency.model_copy(update={"ssl_cafile": None})  # the system CAs: not ours
    with pytest.raises(KafkaAccessError, match="TLS handshake"):
        await check_access(untrusted)


ROUTING = """
route:
  receiver: hook
  group_by: [plan]
  group_wait: 1s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs:
      - {url: "URL", secret: "env:NOTIFY_TEST_SECRET", allow_private: true}
"""


@pytest.mark.timeout(400)
async def test_the_whole_flow_runs_through_the_secured_broker(
    broker: secure_kafka.SecureKafka, infra: Endpoints, tmp_path: Path, unique_id: str
) -> None:
    """An agency publishes with its own SCRAM user; ingest, scoring and notify each run as
    their own user with the ACLs of deploy/kafka-acls.yaml; a webhook is delivered. A missing
    ACL anywhere on this path fails the test (each service stops at start, see below)."""
    plan = load_catalog().plan(PLAN_ID)
    keys = demo_keys(plan, seed=7)
    keys_file = write_keys_file(tmp_path / "keys.jsonl", keys)
    database = f"kafkasec_{unique_id}"
    receiver = HttpReceiver()
    await receiver.start()
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING.replace("URL", receiver.url("/hook")), "utf-8")
    ports = {name: free_port() for name in ("ingest", "scoring", "notify")}
    common = {"MONGODB_DATABASE": database}
    envs = {
        "ingest": {
            **_service_env(broker, "planwatch-ingest", infra),
            **common,
            "INGEST_HTTP__PORT": str(ports["ingest"]),
            "INGEST_KEYS_FILE": str(keys_file),
        },
        "scoring": {
            **_service_env(broker, "planwatch-scoring", infra),
            **common,
            "SCORING_HTTP__PORT": str(ports["scoring"]),
        },
        "notify": {
            **_service_env(broker, "planwatch-notify", infra),
            **common,
            "NOTIFY_HTTP__PORT": str(ports["notify"]),
            "NOTIFY_ROUTING_FILE": str(routing),
            "NOTIFY_TICK_S": "0.1",
            "NOTIFY_TEST_SECRET": SECRET,
        },
    }
    services = {
        name: ServiceProcess(name, env, tmp_path / f"{name}.log", ports[name])
        for name, env in envs.items()
    }
    try:
        for service in services.values():
            service.start()
        for service in services.values():
            await service.ready(timeout_s=150)
        now = datetime.now(UTC)
        key = keys[AGENCY]
        event = sign(
            new_report(
                agency=AGENCY,
                plan=PLAN_ID,
                target="gov.mobile-services",
                as_of=now.date() - timedelta(days=1),
                time=now,
                value=5,
                event_id=f"sec-{unique_id}",
            ),
            key.private_key,
            key.key_id,
        )
        # The agency publishes with its own SCRAM user.
        sent = await send_kafka(
            event, broker.settings(AGENCY_USER), topics.PROGRESS, Mode.BINARY, 30.0
        )
        assert sent["topic"] == topics.PROGRESS
        # Ingest accepted it: it is on planwatch.accepted (read as the super user).
        consumer = AIOKafkaConsumer(
            topics.ACCEPTED,
            **client_options(broker.settings(secure_kafka.ADMIN)),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            async with asyncio.timeout(90):
                found = False
                while not found:
                    batches = await consumer.getmany(timeout_ms=500)
                    found = any(
                        f"sec-{unique_id}".encode() in (r.value or b"")
                        for records in batches.values()
                        for r in records
                    )
        finally:
            await consumer.stop()
        # Scoring scored it (its clock moved to now: report_overdue fires across the plan) and
        # notify delivered the alert group to the webhook.
        await wait_until(lambda: receiver.at("/hook"), within=180, interval=0.2)
        body = receiver.at("/hook")[0].body
        assert PLAN_ID.encode() in body
    finally:
        for service in services.values():
            service.stop()
        await receiver.stop()
        for name in ("ingest", "scoring", "notify"):
            log = (tmp_path / f"{name}.log").read_text(encoding="utf-8", errors="replace")
            password = broker.password_file(f"planwatch-{name}").read_text(encoding="utf-8")
            assert password not in log  # the secret is never logged


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    ("user", "refusal"),
    [
        (RESTRICTED, f"READ of topic(s) {topics.ACCEPTED}"),
        (NO_WRITE, f"WRITE topic(s) {topics.ALERTS} ({topics.ALERTS}: WRITE not granted)"),
    ],
    ids=["read", "write"],
)
async def test_a_missing_acl_stops_the_service_at_start_with_a_clear_error(
    broker: secure_kafka.SecureKafka,
    infra: Endpoints,
    tmp_path: Path,
    unique_id: str,
    user: str,
    refusal: str,
) -> None:
    """Before it consumes or writes anything, scoring names the grant it lacks and exits."""
    port = free_port()
    env = {
        **_service_env(broker, user, infra),
        "MONGODB_DATABASE": f"kafkasec_{unique_id}",
        "SCORING_HTTP__PORT": str(port),
    }
    scoring = ServiceProcess("scoring", env, tmp_path / "scoring.log", port)
    scoring.start()
    try:
        assert scoring.proc is not None
        async with asyncio.timeout(120):  # it must give up, not retry for ever
            while scoring.proc.poll() is None:  # noqa: ASYNC110 (a process, not an event)
                await asyncio.sleep(0.2)
        assert scoring.proc.returncode != 0
        log = scoring.log_tail(80)
        assert "Kafka refused access; not retrying" in log
        assert refusal in log
    finally:
        scoring.stop()


@pytest.mark.timeout(240)
async def test_the_cli_starts_a_secured_broker_with_the_acls(tmp_path: Path) -> None:
    """`planwatch infra secure-up` / `secure-down`: the env file of a principal connects, and
    its ACLs (from deploy/kafka-acls.yaml) hold."""
    home = tmp_path / "secure"
    cli = [str(Path(sys.executable).with_name("planwatch")), "infra"]
    args = ["--home", str(home), "--port", str(free_port())]
    up = await asyncio.to_thread(
        subprocess.run,
        [*cli, "secure-up", *args, "--controller-port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    try:
        assert up.returncode == 0, up.stderr
        env_file = home / "env" / "planwatch-scoring.env"
        assert f"planwatch-scoring: {env_file}" in up.stdout
        values = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        assert "KAFKA_SASL_PASSWORD" not in values  # the password stays in its 0600 file
        settings = KafkaSettings(
            bootstrap_servers=values["KAFKA_BOOTSTRAP_SERVERS"],
            security_protocol="SASL_SSL",
            sasl_mechanism=values["KAFKA_SASL_MECHANISM"],
            sasl_username=values["KAFKA_SASL_USERNAME"],
            sasl_password_file=Path(values["KAFKA_SASL_PASSWORD_FILE"]),
            ssl_cafile=Path(values["KAFKA_SSL_CAFILE"]),
        )
        await check_access(settings, read_topics=[topics.ACCEPTED])
        with pytest.raises(KafkaAccessError):
            await check_access(settings, read_topics=[topics.PROGRESS])  # ingest's, not its
    finally:
        down = await asyncio.to_thread(
            subprocess.run,
            [*cli, "secure-down", "--home", str(home)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert down.returncode == 0, down.stderr
