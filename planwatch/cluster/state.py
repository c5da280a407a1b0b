"""The cluster's state file, `<state dir>/cluster.json`: what `cluster up` started, for
`cluster status` and `cluster down` (which may run from another shell)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from planwatch.cluster.processes import Member

STATE_FILE: Final = "cluster.json"


class ClusterError(RuntimeError):
    """The cluster could not be brought up (a port is taken, another cluster runs, ...)."""


@dataclass(frozen=True)
class ClusterState:
    replicas: int
    base_port: int
    database: str
    kafka_bootstrap: str
    groups: dict[str, list[str]]  # consumer group -> the topics it consumes
    members: list[Member] = field(default_factory=list)
    clock_key_file: str = ""  # signs ticks the replicas trust (PLANWATCH_CLOCK_KEY_FILE)

    def save(self, state_dir: Path) -> None:
        data = asdict(self)
        data["members"] = [{**asdict(m), "log": str(m.log)} for m in self.members]
        path = state_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, state_dir: Path) -> ClusterState | None:
        """The recorded cluster, or None (never started, or the file is unreadable)."""
        try:
            data: dict[str, Any] = json.loads((state_dir / STATE_FILE).read_text("utf-8"))
            members = [Member(**{**m, "log": Path(m["log"])}) for m in data.pop("members")]
            return cls(**data, members=members)
        except (OSError, ValueError, TypeError, KeyError):
            return None

    @staticmethod
    def forget(state_dir: Path) -> None:
        (state_dir / STATE_FILE).unlink(missing_ok=True)
