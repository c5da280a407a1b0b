"""The scoring service as a subprocess on a test's own topics, group, database and port
(the `scoring_service` fixture, shared by the scoring-service and live-dashboard tests).

In a test module: `scoring_service = scoring_support.scoring_service` (for pytest to find it).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest_asyncio

from shared.kafka_admin import ensure_topics
from tests.integration.service_process import ServiceProcess


class Topics:
    def __init__(self, unique: str) -> None:
        self.accepted = f"test.{unique}.accepted"
        self.clock = f"test.{unique}.clock"
        self.sync = f"test.{unique}.sync"
        self.scores = f"test.{unique}.scores"
        self.alerts = f"test.{unique}.alerts"
        self.dlt = f"test.{unique}.dlt"

    PARTITIONS: ClassVar[dict[str, int]] = {
        "accepted": 6,
        "clock": 1,
        "sync": 1,
        "scores": 6,
        "alerts": 6,
        "dlt": 1,
    }

    def partitions(self) -> dict[str, int]:
        return {getattr(self, kind): n for kind, n in self.PARTITIONS.items()}


def scoring_env(
    *, kafka: str, mongodb: str, database: str, group_id: str, topics: Topics, port: int
) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URI": mongodb,
        "MONGODB_DATABASE": database,
        "SCORING_GROUP_ID": group_id,
        "SCORING_INPUT_TOPIC": topics.accepted,
        "SCORING_CLOCK_TOPIC": topics.clock,
        "SCORING_SYNC_TOPIC": topics.sync,
        "SCORING_SCORES_TOPIC": topics.scores,
        "SCORING_ALERTS_TOPIC": topics.alerts,
        "SCORING_DLT_TOPIC": topics.dlt,
        "SCORING_HTTP__PORT": str(port),
        "SCORING_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }


@pytest_asyncio.fixture
async def scoring_service(
    kafka_bootstrap: str,
    mongodb_uri: str,
    db_name: str,
    group_id: str,
    unique_id: str,
    free_port: int,
    tmp_path: Path,
) -> AsyncIterator[tuple[ServiceProcess, Topics]]:
    """The service, not started yet (a test may add to its `env`), and its topics, created;
    stopped at the end."""
    topics = Topics(unique_id)
    await ensure_topics(kafka_bootstrap, topics.partitions())
    env = scoring_env(
        kafka=kafka_bootstrap,
        mongodb=mongodb_uri,
        database=db_name,
        group_id=group_id,
        topics=topics,
        port=free_port,
    )
    service = ServiceProcess("scoring", env, tmp_path / "scoring.log", free_port)
    try:
        yield service, topics
    finally:
        service.stop()
