"""Outbound HTTP POSTs under the SSRF rule: resolve the host, check every address
(`domain.ssrf.check_destination`), then connect to a checked address — not to whatever DNS
answers a moment later. The Host header and TLS SNI keep the original name.

Through an egress proxy (`services.notify.egress`) the same holds: the check comes first and
the proxy is asked for the checked address; only with `connect_by_name` is it asked for the
host name (a proxy that allows destinations by name), which it then resolves itself."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from services.notify.domain.ssrf import check_destination

Resolver = Callable[[str, int], Awaitable[list[str]]]


class DestinationRefusedError(Exception):
    """The URL is not allowed: bad scheme, no host, or a non-public address (SSRF rule)."""


class ResolutionError(OSError):
    """The host name did not resolve (may pass: retried like a connection error)."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    retry_after: str | None
    body: bytes


async def resolve_host(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in resolver order, without duplicates."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolutionError(f"cannot resolve {host!r}: {exc}") from None
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone
        if address not in seen:
            seen.append(address)
    return seen


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# A receiver's answer matters only by its status and Retry-After: its body is read up to
# this much (kept for the delivery log), and one attempt, resolution included, ends by the
# deadline whatever the receiver does (a slow drip of bytes resets httpx's read timeout).
MAX_RESPONSE_BYTES = 64 * 1024
MAX_ATTEMPT_S = 30.0


class PinnedHttp:
    def __init__(
        self,
        client: httpx.AsyncClient,
        resolver: Resolver = resolve_host,
        *,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        max_attempt_s: float = MAX_ATTEMPT_S,
        connect_by_name: bool = False,
    ) -> None:
        self.client = client
        self.connect_by_name = connect_by_name
        self.resolver = resolver
        self.max_response_bytes = max_response_bytes
        self.max_attempt_s = max_attempt_s

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, allow_private: bool
    ) -> HttpAnswer:
        """POST `body` to `url` through a checked address. Raises DestinationRefusedError,
        ResolutionError, or httpx's TimeoutException / TransportError."""
        try:
            async with asyncio.timeout(self.max_attempt_s):
                return await self._post(url, body, headers, allow_private=allow_private)
        except TimeoutError:
            raise httpx.TimeoutException(
                f"the attempt took longer than {self.max_attempt_s:g} s"
            ) from None

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], *, allow_private: bool
    ) -> HttpAnswer:
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            raise DestinationRefusedError(check_destination(url, [], allow_private).reason)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise DestinationRefusedError(f"bad port in the URL: {exc}") from None
        addresses = await self.resolver(host, port)
        verdict = check_destination(url, addresses, allow_private)
        if not verdict.allowed:
            raise DestinationRefusedError(verdict.reason)
        if self.connect_by_name:  # the proxy connects to the name: httpx keeps Host and SNI
            request = self.client.build_request("POST", url, content=body, headers=headers)
            return await self._send(request)
        address = addresses[0]
        pinned_host = f"[{address}]" if ":" in address else address
        netloc = f"{pinned_host}:{parts.port}" if parts.port else pinned_host
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = f"[{host}]" if ":" in host else host
        if parts.port:
            host_header += f":{parts.port}"
        extensions = {}
        if parts.scheme == "https" and not _is_ip(host):
            extensions["sni_hostname"] = host
        request = self.client.build_request(
            "POST",
            pinned,
            content=body,
            headers={**headers, "Host": host_header},
            extensions=extensions,
        )
        return await self._send(request)

    async def _send(self, request: httpx.Request) -> HttpAnswer:
        response = await self.client.send(request, stream=True)
        try:
            kept = await self._head_of_body(response)
        finally:
            await response.aclose()
        return HttpAnswer(response.status_code, response.headers.get("retry-after"), kept)

    async def _head_of_body(self, response: httpx.Response) -> bytes:
        """At most `max_response_bytes` of the body as sent (raw: never decompressed, so a
        compressed bomb stays small); the rest is never read, and the connection is closed."""
        if response.is_stream_consumed:  # already in memory (httpx's mock transport)
            return response.content[: self.max_response_bytes]
        kept = bytearray()
        async for chunk in response.aiter_raw():
            kept += chunk[: self.max_response_bytes - len(kept)]
            if len(kept) >= self.max_response_bytes:
                break
        return bytes(kept)
