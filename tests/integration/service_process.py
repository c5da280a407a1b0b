"""A planwatch service as a subprocess (`python -m services.<name>.main`), for the tests that
start, kill and restart one: ingest's faults, the scoring service and dashboard, notify's
service and SIGKILL tests."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from planwatch.infra.ports import free_port
from tests.integration.auth_support import auth_env

ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """`env` without `<SERVICE>_MANAGEMENT_PORT` gets a free one; without `PLANWATCH_AUTH_MODE`
    the services trust the tests' issuer (`auth_support`: calls need its tokens)."""

    def __init__(
        self, service: str, env: Mapping[str, str], log: Path, port: int | None = None
    ) -> None:
        self.service = service
        self.env = {**auth_env(), **env} if "PLANWATCH_AUTH_MODE" not in env else dict(env)
        management = f"{service.upper()}_MANAGEMENT_PORT"
        self.env.setdefault(management, str(free_port()))
        self.management_port = int(self.env[management])
        self.log = log
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def management_url(self) -> str:
        """`/livez`, `/readyz`, `/metrics` (no authentication)."""
        return f"http://127.0.0.1:{self.management_port}"

    @property
    def url(self) -> str:
        if self.port is None:
            raise ValueError(f"{self.service}: started without a known HTTP port")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Spawn it (again), its output appended to the log."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.service}.main"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, timeout_s: float = 60.0) -> None:
        """Wait until `/readyz` answers 200; fails with the log's tail if the process exits."""
        async with httpx.AsyncClient() as client, asyncio.timeout(timeout_s):
            while True:
                if self.proc is None or self.proc.poll() is not None:
                    raise AssertionError(f"{self.service} exited:\n{self.log_tail()}")
                try:
                    if (await client.get(f"{self.management_url}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL, if it runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 30 s; the exit status (None if it never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def metrics(self) -> str:
        return httpx.get(f"{self.management_url}/metrics").text
