"""Detached server processes tracked by pid files: spawn, liveness, port probes, stop, log tail.

Servers are started through `sh -c '... &'` so they are re-parented away from the caller: they
outlive a `planwatch infra up` and never become zombies of a long-running pytest process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from planwatch.infra.errors import InfraError

# Runs "$@" in the background with stdin from /dev/null and output appended to $0, prints its pid.
_SPAWN_SCRIPT = 'log="$0"; "$@" </dev/null >>"$log" 2>&1 & echo $!'


def spawn_detached(
    argv: list[str], log_file: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> int:
    """Starts argv in its own session, detached from us (it outlives this process), output
    appended to `log_file`; returns its pid. ValueError carries the shell's complaint."""
    out = subprocess.run(
        ["/bin/sh", "-c", _SPAWN_SCRIPT, str(log_file), *argv],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        start_new_session=True,
    )
    try:
        return int(out.stdout.strip())
    except ValueError:
        raise ValueError(out.stderr.strip()) from None


@dataclass(frozen=True)
class ManagedProcess:
    """One server's files in the state directory."""

    name: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None

    def running_pid(self) -> int | None:
        """Our recorded pid if that process is still running and is ours, else None."""
        pid = self.read_pid()
        if pid is None or not pid_alive(pid):
            return None
        # Guards against pid reuse: our servers name a path inside the state dir on their cmdline.
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return pid
        return pid if str(self.state_dir) in cmdline else None

    def spawn(self, argv: list[str], cwd: Path) -> int:
        """Starts argv detached, output appended to the log file; records and returns its pid."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("a", encoding="utf-8") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(argv)}\n")
        try:
            pid = spawn_detached(argv, self.log_file, cwd=cwd)
        except ValueError as exc:
            raise InfraError(f"could not start {self.name}: {exc}") from None
        self.pid_file.write_text(f"{pid}\n", encoding="utf-8")
        return pid

    def stop(self, timeout_s: float) -> bool:
        """SIGTERM our recorded process, SIGKILL after timeout_s. True if something was stopped."""
        pid = self.running_pid()
        stopped = False
        if pid is not None:
            stopped = True
            _signal(pid, signal.SIGTERM)
            if not wait_dead(pid, timeout_s):
                _signal(pid, signal.SIGKILL)
                wait_dead(pid, 5.0)
        self.pid_file.unlink(missing_ok=True)
        return stopped

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return f"(no log file {self.log_file})"
        return "\n".join(text.splitlines()[-lines:])


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def pid_alive(pid: int) -> bool:
    """True if pid runs (a zombie counts as dead)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it happens to be our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    # The state letter follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def wait_dead(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
