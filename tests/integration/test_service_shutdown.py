"""SIGTERM is prompt in every phase: a service whose start-up still retries an unreachable
Kafka and MongoDB used to take about two minutes (its whole start-up timeout) to exit."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

import pytest

from planwatch.infra.ports import free_port
from tests.integration.notify_support import shipped_routing_secrets
from tests.integration.service_process import ServiceProcess

EXIT_BOUND_S = 30.0  # generous for a busy machine; the start-up timeout is 120 s


def _closed_port() -> int:
    return free_port()  # nothing listens there


async def _wait_for_log(service: ServiceProcess, text: str, timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while text not in service.log_tail(200):
            assert service.proc is not None and service.proc.poll() is None, service.log_tail()
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("name", ["ingest", "scoring", "notify"])
async def test_sigterm_during_a_retrying_start_up_exits_promptly(
    name: str, free_port: int, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port()}",
        "MONGODB_URI": f"mongodb://127.0.0.1:{_closed_port()}/",
        "MONGODB_SERVER_SELECTION_TIMEOUT_MS": "200",
        f"{name.upper()}_HTTP__PORT": str(free_port),
        **(shipped_routing_secrets() if name == "notify" else {}),
    }
    service = ServiceProcess(name, env, tmp_path / f"{name}.log", free_port)
    service.start()
    try:
        await _wait_for_log(service, "start-up step failed; retrying")
        assert service.proc is not None
        service.proc.send_signal(signal.SIGTERM)
        try:
            service.proc.wait(EXIT_BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"{name} still runs {EXIT_BOUND_S:g} s after SIGTERM:\n{service.log_tail()}"
            )
        assert "start-up aborted: stop requested" in service.log_tail(200)
    finally:
        service.kill()
