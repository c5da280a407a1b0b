"""The notify service as a process (`python -m services.notify.main`) on the real Kafka and
FerretDB: its environment (`service_env`), and the `notify_process` fixture that builds one on
the test's topics, database and consumer group.

In a test module: `notify_process = notify_subprocess.notify_process` (for pytest to find
it), as `scoring_support.scoring_service`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import pytest

from tests.integration.notify_harness import SECRET
from tests.integration.service_process import ServiceProcess


def service_env(
    *,
    kafka: str,
    mongodb: str,
    db: str,
    prefix: str,
    group: str,
    routing: Path,
    http_port: int,
    smtp_port: int = 25,
) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URI": mongodb,
        "MONGODB_DATABASE": db,
        "NOTIFY_ROUTING_FILE": str(routing),
        "NOTIFY_INPUT_TOPIC": f"{prefix}.alerts",
        "NOTIFY_GROUPS_TOPIC": f"{prefix}.groups",
        "NOTIFY_GROUP_ID": group,
        "NOTIFY_NOTIFICATIONS_TOPIC": f"{prefix}.notifications",
        "NOTIFY_DLT_TOPIC": f"{prefix}.dlt",
        "NOTIFY_HTTP__PORT": str(http_port),
        "NOTIFY_TICK_S": "0.1",
        "NOTIFY_SMTP__PORT": str(smtp_port),
        "NOTIFY_DELIVERY__BACKOFF_BASE_S": "0.3",
        "NOTIFY_DELIVERY__BACKOFF_CAP_S": "0.6",
        "NOTIFY_DELIVERY__MAX_ATTEMPTS": "1000",
        "NOTIFY_DELIVERY__HTTP_TIMEOUT_S": "2",
        "NOTIFY_GRACEFUL_TIMEOUT_S": "5",
        "NOTIFY_TEST_SECRET": SECRET,
    }


class NotifyProcesses(Protocol):
    def __call__(
        self,
        routing: Path,
        port: int,
        *,
        log: str = "notify.log",
        smtp_port: int = 25,
        env: Mapping[str, str] | None = None,
    ) -> ServiceProcess: ...


@pytest.fixture
def notify_process(
    kafka_bootstrap: str,
    mongodb_uri: str,
    db_name: str,
    topic_name: str,
    group_id: str,
    tmp_path: Path,
) -> NotifyProcesses:
    """Builds a notify process, not started: the test's Kafka, database, group and topics
    (`topic_name` the prefix), the routing file, its HTTP port, its log (under `tmp_path`),
    its SMTP port, and `env` on top."""

    def make(
        routing: Path,
        port: int,
        *,
        log: str = "notify.log",
        smtp_port: int = 25,
        env: Mapping[str, str] | None = None,
    ) -> ServiceProcess:
        full = service_env(
            kafka=kafka_bootstrap,
            mongodb=mongodb_uri,
            db=db_name,
            prefix=topic_name,
            group=group_id,
            routing=routing,
            http_port=port,
            smtp_port=smtp_port,
        )
        return ServiceProcess("notify", {**full, **(env or {})}, tmp_path / log, port)

    return make
