"""Ed25519 verification for intake: in the service's own thread, or in a worker process.

Verifying a signature is the costliest single check (about 60 µs of libsodium per event) and
needs nothing from the rest of the service, so `ProcessVerifier` hands it to a child process
(`verify_worker.py`, run with the service's interpreter) while the event loop parses and checks
the next events: on a machine with a spare core, judging a batch then takes about as long as
verifying it. A thread would not do: each of its calls would wait for the GIL.

The answer is the same either way: the worker runs `shared.contract.ed25519.signature_valid`
on the same bytes. Whenever the worker is not available (not started, exited, stuck past the
timeout) the items are verified here instead, and a new worker is started a little later.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Final, Protocol

from services.ingest.verify_worker import encode_request
from shared.contract.ed25519 import signature_valid
from shared.runtime.logging import get_logger

log = get_logger("planwatch.ingest.verifier")

#: (raw public key, signature, signed bytes)
SignedItem = tuple[bytes, bytes, bytes]

WORKER_MODULE: Final = "services.ingest.verify_worker"
# Where `services` and `shared` are importable from, for the worker whatever the service's cwd.
_SOURCE_ROOT: Final = Path(__file__).resolve().parents[2]


class SignatureVerifier(Protocol):
    def submit(self, items: Sequence[SignedItem]) -> Awaitable[list[bool]]:
        """Start verifying `items`; the awaitable gives `signature_valid` of each, in order."""
        ...


async def _ready(results: list[bool]) -> list[bool]:
    return results


def verify_here(items: Sequence[SignedItem]) -> list[bool]:
    return [signature_valid(key, signature, message) for key, signature, message in items]


class InlineVerifier:
    """Verifies at `submit`, in the caller's thread."""

    def submit(self, items: Sequence[SignedItem]) -> Awaitable[list[bool]]:
        return _ready(verify_here(items))


class ProcessVerifier:
    """Verifies in one worker process; answers come back in the order requests were sent."""

    def __init__(self, timeout_s: float = 10.0, restart_after_s: float = 5.0) -> None:
        self._timeout_s = timeout_s
        self._restart_after_s = restart_after_s
        self._process: asyncio.subprocess.Process | None = None
        self._waiting: asyncio.Queue[tuple[int, asyncio.Future[bytes]]] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._restart_at = 0.0
        self._starting: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the worker; if it cannot be started, verification stays in this process."""
        if self._process is not None:
            return
        try:
            await self._spawn()
        except OSError as exc:
            log.warning("verification worker not started; verifying in-process", error=repr(exc))
            self._restart_at = time.monotonic() + self._restart_after_s

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
        process = self._process
        self._discard("stopping")
        if process is not None:
            await _end(process, self._timeout_s)

    @property
    def running(self) -> bool:
        return self._process is not None

    def submit(self, items: Sequence[SignedItem]) -> Awaitable[list[bool]]:
        process = self._process
        if not items:
            return _ready([])
        if process is None or process.stdin is None or process.stdin.is_closing():
            self._maybe_restart()
            return _ready(verify_here(items))
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        try:
            process.stdin.write(encode_request(list(items)))
        except (OSError, RuntimeError) as exc:
            self._discard(f"cannot write to the worker: {exc!r}")
            return _ready(verify_here(items))
        self._waiting.put_nowait((len(items), future))
        return self._result(future, items)

    async def _result(
        self, future: asyncio.Future[bytes], items: Sequence[SignedItem]
    ) -> list[bool]:
        try:
            async with asyncio.timeout(self._timeout_s):
                # Shielded: a cancelled batch leaves the answer to the reader, so that the
                # answers that follow stay matched to their requests.
                answer = await asyncio.shield(future)
        except TimeoutError:
            self._discard(f"no answer within {self._timeout_s} s")
            return verify_here(items)
        except WorkerGoneError:
            return verify_here(items)
        if len(answer) != len(items):  # cannot happen with a sound worker; verify here then
            self._discard("answer of the wrong length")
            return verify_here(items)
        return [byte == 1 for byte in answer]

    async def _spawn(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_SOURCE_ROOT), env.get("PYTHONPATH", "")) if p
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            WORKER_MODULE,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        self._process = process
        self._waiting = asyncio.Queue()
        self._reader = asyncio.create_task(self._read(process, self._waiting))
        log.info("verification worker started", pid=process.pid)

    async def _read(
        self,
        process: asyncio.subprocess.Process,
        waiting: asyncio.Queue[tuple[int, asyncio.Future[bytes]]],
    ) -> None:
        assert process.stdout is not None
        while True:
            count, future = await waiting.get()
            try:
                answer = await process.stdout.readexactly(count)
            except (asyncio.IncompleteReadError, OSError) as exc:
                if not future.done():
                    future.set_exception(WorkerGoneError(repr(exc)))
                if self._process is process:
                    self._discard(f"the worker stopped answering: {exc!r}")
                return
            if not future.done():
                future.set_result(answer)

    def _discard(self, why: str) -> None:
        """Forget the worker (killing it if it still runs); what waits is verified here."""
        process, self._process = self._process, None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        while not self._waiting.empty():
            _, future = self._waiting.get_nowait()
            if not future.done():
                future.set_exception(WorkerGoneError(why))
        if process is None or why == "stopping":
            return
        log.warning("verification worker discarded; verifying in-process", reason=why)
        self._restart_at = time.monotonic() + self._restart_after_s
        if process.returncode is None:
            process.kill()

    def _maybe_restart(self) -> None:
        if self._starting is not None or time.monotonic() < self._restart_at:
            return
        self._restart_at = time.monotonic() + self._restart_after_s
        self._starting = asyncio.create_task(self._restart())

    async def _restart(self) -> None:
        try:
            await self.start()
        finally:
            self._starting = None


class WorkerGoneError(Exception):
    """The worker ended or was discarded before answering."""


async def _end(process: asyncio.subprocess.Process, timeout_s: float) -> None:
    if process.stdin is not None and not process.stdin.is_closing():
        process.stdin.close()
    try:
        async with asyncio.timeout(timeout_s):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
