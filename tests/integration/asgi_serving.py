"""An ASGI app served by uvicorn in the test's own event loop, on a free port of 127.0.0.1 (a
stand-in service the process under test calls, or a proxy in front of it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn


@asynccontextmanager
async def serving(app: Callable[..., Any], name: str) -> AsyncIterator[str]:
    """`app` listening (10 s at most to start, or an AssertionError naming `name`); yields its
    base URL; stopped on exit."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and not task.done(), f"{name} did not start"
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
