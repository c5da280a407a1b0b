"""A stand-in for oauth2-proxy in front of the dashboard: every request the browser makes (the
page, its API calls, its downloads) is forwarded to the service with the viewer's access token
added, as the proxy does after sign-in; the browser never holds the token.

(Playwright's extra HTTP headers do not reach downloads, which Chromium fetches itself.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.integration.asgi_serving import serving

# Hop-by-hop headers, and those httpx has already applied (the body arrives decoded).
DROPPED = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length"}
)


class TokenProxy:
    """An ASGI app forwarding each HTTP request to `upstream` with `token_headers` added."""

    def __init__(self, client: httpx.AsyncClient, token_headers: Mapping[str, str]) -> None:
        self.client = client
        self.token_headers = dict(token_headers)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        sent = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.decode() not in DROPPED]
        url = scope["path"] + (
            f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        )
        response = await self.client.request(
            scope["method"], url, headers=[*sent, *self.token_headers.items()], content=body
        )
        headers = [
            (k.encode(), v.encode())
            for k, v in response.headers.multi_items()
            if k.lower() not in DROPPED
        ]
        headers.append((b"content-length", str(len(response.content)).encode()))
        await send(
            {"type": "http.response.start", "status": response.status_code, "headers": headers}
        )
        await send({"type": "http.response.body", "body": response.content})


@asynccontextmanager
async def token_proxy(upstream: str, token_headers: Mapping[str, str]) -> AsyncIterator[str]:
    """The proxy listening on a free port of 127.0.0.1; yields its base URL."""
    async with (
        httpx.AsyncClient(base_url=upstream, timeout=30) as client,
        serving(TokenProxy(client, token_headers), "the proxy") as url,
    ):
        yield url
