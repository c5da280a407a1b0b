"""Runs the three services as child processes: logs to files, readiness by `/readyz` (on each
service's management port: its HTTP port + 1000),
stop by SIGTERM then SIGKILL.

Children get their own session, so a Ctrl-C in the terminal reaches only the demo, which
then stops them in order (a service drains its batch on SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import httpx

READY_PATH: Final = "/readyz"
MANAGEMENT_PORT_OFFSET: Final = 1000  # a service's management port: its HTTP port + this
DEFAULT_READY_TIMEOUT_S: Final = 90.0
DEFAULT_STOP_TIMEOUT_S: Final = 15.0


class ServiceStartError(RuntimeError):
    """A service exited or did not become ready in time; the message quotes its log."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # ingest | scoring | notify
    module: str  # e.g. services.ingest.main
    port: int
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def management_port(self) -> int:
        return self.port + MANAGEMENT_PORT_OFFSET

    @property
    def management_url(self) -> str:
        """`/livez`, `/readyz`, `/metrics`: the management port (no authentication)."""
        return f"http://127.0.0.1:{self.management_port}"


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class ServiceProcess:
    def __init__(self, spec: ServiceSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, **self.spec.env}
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.spec.module],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    async def wait_ready(self, timeout_s: float = DEFAULT_READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        last = "no answer yet"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self.exit_code()
                if code is not None:
                    raise ServiceStartError(
                        f"{self.spec.name} exited with code {code}; the end of "
                        f"{self.log_path}:\n{log_tail(self.log_path)}"
                    )
                try:
                    response = await client.get(self.spec.management_url + READY_PATH)
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.5)
        raise ServiceStartError(
            f"{self.spec.name} not ready on {self.spec.management_url}{READY_PATH} after "
            f"{timeout_s:.0f} s "
            f"({last}); the end of {self.log_path}:\n{log_tail(self.log_path)}"
        )

    def stop(self, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`; idempotent."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None


class Supervisor:
    """Starts services in order, each ready before the next; stops them in reverse."""

    def __init__(self, specs: list[ServiceSpec], log_dir: Path) -> None:
        self.processes = [ServiceProcess(spec, log_dir) for spec in specs]

    async def start_all(self, timeout_s: float = DEFAULT_READY_TIMEOUT_S) -> None:
        for process in self.processes:
            process.start()
        for process in self.processes:
            await process.wait_ready(timeout_s)

    def dead(self) -> list[ServiceProcess]:
        return [p for p in self.processes if p.exit_code() is not None]

    async def stop_all(self, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        await asyncio.gather(
            *(asyncio.to_thread(p.stop, timeout_s) for p in reversed(self.processes))
        )
