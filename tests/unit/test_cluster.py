"""`planwatch cluster` without servers: the broker's group descriptions read into partitions
per replica, the state file, the limits, and `status`/`down` over a recorded cluster whose
processes are gone (the live cluster: tests/integration/test_cluster.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from typer.testing import CliRunner

from planwatch import cluster_cli
from planwatch.cluster import members as kafka_members
from planwatch.cluster.members import Assignments, assignments, by_client
from planwatch.cluster.processes import Member, running
from planwatch.cluster.run import ClusterConfig
from planwatch.cluster.state import ClusterError, ClusterState
from shared.runtime.settings import KafkaSettings


def _assignment(*pairs: tuple[str, list[int]]) -> bytes:
    encoded: bytes = ConsumerProtocolMemberAssignment(0, list(pairs), b"").encode()
    return encoded


def test_assignments_read_each_member_s_partitions_by_client_id() -> None:
    groups: list[dict[str, Any]] = [
        {
            "group": "planwatch-scoring",
            "members": [
                {
                    "client_id": "planwatch-scoring-1",
                    "member_assignment": _assignment(("a", [2, 0])),
                },
                {"client_id": "planwatch-scoring-1", "member_assignment": _assignment(("c", [0]))},
                {"client_id": "planwatch-scoring-2", "member_assignment": _assignment(("a", [1]))},
                {"client_id": "planwatch-scoring-3", "member_assignment": b""},  # joining
            ],
        },
        {"group": "planwatch-ingest", "members": []},
    ]
    found = assignments(groups)
    assert found == {
        "planwatch-scoring": {
            "planwatch-scoring-1": {"a": [0, 2], "c": [0]},
            "planwatch-scoring-2": {"a": [1]},
            "planwatch-scoring-3": {},
        },
        "planwatch-ingest": {},
    }
    assert by_client(found)["planwatch-scoring-2"] == ("planwatch-scoring", {"a": [1]})


def _member(tmp_path: Path, name: str, pid: int, port: int) -> Member:
    service = name.split("-", maxsplit=1)[0]
    return Member(name, service, f"planwatch-{name}", pid, port, port + 1000, tmp_path / "x.log")


def _state(tmp_path: Path, pid: int) -> ClusterState:
    return ClusterState(
        replicas=1,
        base_port=8101,
        database="planwatch_demo",
        kafka_bootstrap="127.0.0.1:1",
        groups={"planwatch-ingest": ["planwatch.progress"]},
        members=[_member(tmp_path, "ingest", pid, 8101)],
        clock_key_file=str(tmp_path / "clock-key.pem"),
    )


def _gone_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_the_state_file_round_trips_and_an_unreadable_one_is_no_cluster(tmp_path: Path) -> None:
    state = _state(tmp_path, 4242)
    state.save(tmp_path)
    assert ClusterState.load(tmp_path) == state
    (tmp_path / "cluster.json").write_text("{not json", "utf-8")
    assert ClusterState.load(tmp_path) is None


def test_a_recorded_pid_is_the_cluster_s_only_with_its_marker(tmp_path: Path) -> None:
    assert not running(_member(tmp_path, "ingest", _gone_pid(), 1), tmp_path)
    # This test's own process runs, but without the cluster's marker: not a member.
    assert not running(_member(tmp_path, "ingest", os.getpid(), 1), tmp_path)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ClusterConfig(replicas=7), "replicas 7"),
        (ClusterConfig(replicas=0), "replicas 0"),
        (ClusterConfig(database="planwatch"), "must start with"),
    ],
)
def test_the_cluster_s_limits(config: ClusterConfig, message: str) -> None:
    with pytest.raises(ClusterError, match=message):
        config.demo()


def test_status_and_down_over_a_cluster_whose_processes_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANWATCH_INFRA_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(cluster_cli.cluster_app, ["status"])
    assert result.exit_code == 1 and "no cluster" in result.output

    async def describe(kafka: KafkaSettings, group_ids: list[str]) -> dict[str, Assignments]:
        return {group: {} for group in group_ids}

    monkeypatch.setattr(kafka_members, "describe", describe)
    folder = tmp_path / "cluster"
    folder.mkdir()
    _state(tmp_path, _gone_pid()).save(folder)
    text = runner.invoke(cluster_cli.cluster_app, ["status"])
    assert text.exit_code == 1
    assert text.stdout.split()[:2] == ["ingest", "DOWN"]
    as_json = runner.invoke(cluster_cli.cluster_app, ["status", "--format", "json"])
    report: dict[str, Any] = json.loads(as_json.stdout)
    assert [(m["name"], m["running"], m["group"]) for m in report["members"]] == [
        ("ingest", False, None)
    ]
    down = runner.invoke(cluster_cli.cluster_app, ["down"])
    assert down.exit_code == 0 and down.stdout.strip() == "nothing was running"
    assert ClusterState.load(folder) is None
