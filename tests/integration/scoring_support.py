"""The scoring service as a subprocess on a test's own topics, group, database and port
(shared by the scoring-service and live-dashboard tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[2]


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


class ScoringProcess:
    """`python -m services.scoring.main` with the given environment."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env = env
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.scoring.main"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
