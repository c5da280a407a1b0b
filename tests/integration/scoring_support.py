"""The scoring service's environment for a test's own topics, group, database and port
(shared by the scoring-service and live-dashboard tests, which run it as a
`service_process.ServiceProcess`)."""

from __future__ import annotations

import os
from typing import ClassVar


class Topics:
    def __init__(self, unique: str) -> None:
        self.accepted = f"test.{unique}.accepted"
        self.clock = f"test.{unique}.clock"
        self.scores = f"test.{unique}.scores"
        self.alerts = f"test.{unique}.alerts"
        self.dlt = f"test.{unique}.dlt"

    PARTITIONS: ClassVar[dict[str, int]] = {
        "accepted": 6,
        "clock": 1,
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
        "SCORING_SCORES_TOPIC": topics.scores,
        "SCORING_ALERTS_TOPIC": topics.alerts,
        "SCORING_DLT_TOPIC": topics.dlt,
        "SCORING_HTTP__PORT": str(port),
        "SCORING_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
