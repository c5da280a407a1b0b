"""A single-node Kafka with security on, as in production: a SASL_SSL listener (SCRAM-SHA-512)
with a certificate from a local CA made here, the KRaft StandardAuthorizer with
`allow.everyone.if.no.acl.found=false`, one super user (`admin`) and one SCRAM user per principal
of deploy/kafka-acls.yaml, each with a random password written to a 0600 file.

The controller listener speaks SASL_PLAINTEXT with PLAIN (KRaft controllers cannot use SCRAM)
and only the super user is defined on it. Nothing secret is in the repository: the CA, keys and
passwords are made at start-up in the broker's directory.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka.errors import KafkaError

from planwatch.infra.build import KAFKA_LIBS, require_tool
from planwatch.infra.errors import StartupError
from planwatch.infra.kafka import (
    JVM_OPTIONS,
    LOG4J2_PROPERTIES,
    SINGLE_NODE_TUNING,
    new_cluster_id,
)
from planwatch.infra.local_ca import LocalCa
from planwatch.infra.processes import ManagedProcess
from planwatch.infra.settings import LOOPBACK
from shared.runtime.kafka_security import check_access
from shared.runtime.settings import KafkaSettings

ADMIN = "admin"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class SecureKafka:
    """Where a secured broker lives and how to connect to it as any of its users."""

    home: Path
    port: int
    controller_port: int

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.home / "tls" / "ca.pem"

    def password_file(self, user: str) -> Path:
        return self.home / "credentials" / f"{user}.password"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("kafka-secure", self.home)

    def env(self, user: str) -> dict[str, str]:
        """The KAFKA_* environment of a client authenticating as `user` (password by file)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD_FILE": str(self.password_file(user)),
            "KAFKA_SSL_CAFILE": str(self.ca_file),
        }

    def settings(self, user: str) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=self.bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism=MECHANISM,
            sasl_username=user,
            sasl_password_file=self.password_file(user),
            ssl_cafile=self.ca_file,
        )


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_tls(tls_dir: Path, days: int = 30) -> None:
    """A local CA (ca.pem) and a broker key and certificate for 127.0.0.1 / localhost, signed by
    it, in Kafka's PEM keystore form (broker.pem: PKCS#8 key, then the certificate chain)."""
    ca = LocalCa.create("planwatch local Kafka CA", dt.timedelta(days=days))
    broker = ca.issue([LOOPBACK, "localhost"], client_auth=True)
    _write_private(tls_dir / "ca.pem", ca.cert_pem)
    _write_private(tls_dir / "broker.pem", broker.key_pem + broker.cert_pem + ca.cert_pem)


def _jaas_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def render_server_properties(kafka: SecureKafka, admin_password: str) -> str:
    broker = f"{LOOPBACK}:{kafka.port}"
    controller = f"{LOOPBACK}:{kafka.controller_port}"
    secret = _jaas_quote(admin_password)
    tls = kafka.home / "tls"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{controller}",
        "listeners": f"SASL_SSL://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"SASL_SSL://{broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required"
            f' username="{ADMIN}" password="{secret}" user_{ADMIN}="{secret}";'
        ),
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
            f' username="{ADMIN}" password="{secret}";'
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls / "broker.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls / "ca.pem"),
        "ssl.endpoint.identification.algorithm": "https",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN}",
        "log.dirs": str(kafka.home / "data"),
        "auto.create.topics.enable": "false",
        **SINGLE_NODE_TUNING,
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def start(home: Path, port: int, controller_port: int, users: Iterable[str]) -> SecureKafka:
    """Makes the CA, certificate, passwords and a fresh KRaft storage with the SCRAM users (the
    super user `admin` and `users`), then starts the broker detached. Call `wait_ready` next."""
    kafka = SecureKafka(home.resolve(), port, controller_port)
    if kafka.process.running_pid() is not None:
        raise StartupError(f"a secured Kafka already runs from {kafka.home}")
    java = require_tool("java")
    (kafka.home / "data").mkdir(parents=True, exist_ok=True)
    (kafka.home / "logs").mkdir(exist_ok=True)
    make_tls(kafka.home / "tls")
    names = [ADMIN, *dict.fromkeys(users)]
    scram: list[str] = []
    for name in names:
        password = secrets.token_urlsafe(24)
        _write_private(kafka.password_file(name), password.encode())
        scram += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
    admin_password = kafka.password_file(ADMIN).read_text(encoding="utf-8")
    server_props = kafka.home / "server.properties"
    _write_private(server_props, render_server_properties(kafka, admin_password).encode())
    log4j2 = kafka.home / "log4j2.properties"
    log4j2.write_text(LOG4J2_PROPERTIES, encoding="utf-8")
    base = [
        java,
        *JVM_OPTIONS,
        f"-Dkafka.logs.dir={kafka.home / 'logs'}",
        f"-Dlog4j2.configurationFile={log4j2}",
        "-cp",
        f"{KAFKA_LIBS}/*",
    ]
    fmt = subprocess.run(
        [
            *base,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            new_cluster_id(),
            "-c",
            str(server_props),
            "--ignore-formatted",
            *scram,
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:  # the output names options, never the passwords' values
        raise StartupError(f"kafka storage format failed (exit {fmt.returncode}):\n{fmt.stderr}")
    kafka.process.spawn([*base, "kafka.Kafka", str(server_props)], cwd=kafka.home)
    return kafka


async def wait_ready(kafka: SecureKafka, timeout_s: float = 120.0) -> None:
    """Until the super user can connect over SASL_SSL; StartupError if the broker exits."""
    deadline = time.monotonic() + timeout_s
    admin = kafka.settings(ADMIN)
    last: BaseException | None = None
    while time.monotonic() < deadline:
        if kafka.process.running_pid() is None:
            raise StartupError(f"secured kafka exited; log tail:\n{kafka.process.log_tail()}")
        try:
            await check_access(admin, timeout_s=5.0)
            return
        except (OSError, TimeoutError, KafkaError) as exc:  # not up yet
            last = exc
        await asyncio.sleep(0.5)
    raise StartupError(
        f"secured kafka at {kafka.bootstrap} not ready after {timeout_s:.0f} s ({last!r});"
        f" log tail:\n{kafka.process.log_tail()}"
    )


def stop(kafka: SecureKafka, timeout_s: float = 10.0) -> bool:
    return kafka.process.stop(timeout_s)
