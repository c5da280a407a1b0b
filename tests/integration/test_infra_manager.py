"""The infrastructure manager itself: idempotent `up`, `status`, `down`, foreign ports."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from planwatch.infra.errors import PortTakenError
from planwatch.infra.manager import Endpoints, down, ensure_up, status
from planwatch.infra.processes import ManagedProcess, pid_alive
from planwatch.infra.settings import InfraSettings

pytestmark = pytest.mark.integration


def _quiet(_: str) -> None:
    return None


async def test_up_again_is_idempotent_and_status_reports_up(
    infra: Endpoints, infra_settings: InfraSettings
) -> None:
    before = {row.name: row for row in await status(infra_settings)}
    assert {name: row.up for name, row in before.items()} == {"kafka": True, "ferretdb": True}

    again = await ensure_up(infra_settings, report=_quiet)

    assert again.started == ()  # nothing new was started
    assert (again.kafka_bootstrap, again.mongodb_uri) == (infra.kafka_bootstrap, infra.mongodb_uri)
    after = {row.name: row for row in await status(infra_settings)}
    assert {name: (row.up, row.pid) for name, row in after.items()} == {
        name: (True, row.pid) for name, row in before.items()
    }


async def test_ferretdb_lifecycle_on_its_own_port(
    kafka_bootstrap: str, free_port: int, tmp_path: Path
) -> None:
    # Kafka is the session's (passed as external, so untouched); FerretDB is our own instance.
    settings = InfraSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_uri=None,
        mongo_port=free_port,
        infra_dir=tmp_path / "infra",
    )
    try:
        first = await ensure_up(settings, report=_quiet)
        assert first.started == ("ferretdb",)
        assert first.mongodb_uri == f"mongodb://127.0.0.1:{free_port}/"
        rows = {row.name: row for row in await status(settings)}
        pid = rows["ferretdb"].pid
        assert rows["ferretdb"].up and pid is not None and pid_alive(pid)
        assert rows["kafka"].external and rows["kafka"].pid is None

        assert (await ensure_up(settings, report=_quiet)).started == ()
    finally:
        stopped = down(settings)

    assert stopped == ["ferretdb"]
    assert not pid_alive(pid)
    rows = {row.name: row for row in await status(settings)}
    assert not rows["ferretdb"].up and rows["ferretdb"].pid is None
    assert down(settings) == []  # nothing left to stop


async def test_port_held_by_a_foreign_process_is_a_clear_error(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", 0))
        foreign.listen()
        port = foreign.getsockname()[1]
        settings = InfraSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            mongodb_uri=None,
            mongo_port=port,
            infra_dir=tmp_path / "infra",
        )
        with pytest.raises(PortTakenError, match=f"port\\(s\\) {port} .* not start"):
            await ensure_up(settings, report=_quiet)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    proc = ManagedProcess("stubborn", tmp_path)
    # $0 is the state dir, so the command line names it (how running_pid recognises our pids).
    # It says when the trap is set: a SIGTERM before that would kill it at once.
    script = 'trap "" TERM; touch trapped; while :; do sleep 0.1; done'
    pid = proc.spawn(["/bin/sh", "-c", script, str(tmp_path)], cwd=tmp_path)
    assert proc.running_pid() == pid
    deadline = time.monotonic() + 10
    while not (tmp_path / "trapped").exists():
        assert time.monotonic() < deadline, "the shell never set its trap"
        time.sleep(0.01)

    started = time.monotonic()
    assert proc.stop(timeout_s=1.0) is True
    elapsed = time.monotonic() - started

    assert not pid_alive(pid)
    assert 1.0 <= elapsed < 5.0  # waited out the SIGTERM grace period, then killed
    assert proc.read_pid() is None
    assert proc.stop(timeout_s=1.0) is False


def test_recorded_pid_of_a_foreign_process_is_not_ours(tmp_path: Path) -> None:
    proc = ManagedProcess("kafka", tmp_path)
    proc.pid_file.write_text(f"{os.getpid()}\n")  # alive, but its command line is not ours
    assert proc.running_pid() is None
    assert proc.stop(timeout_s=1.0) is False
    assert pid_alive(os.getpid())
