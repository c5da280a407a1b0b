"""The HTTP client notify delivers with: direct, or with every connection tunnelled through an
egress proxy (HTTP CONNECT) where receivers are reachable only that way (WeCom and DingTalk
from a government network).

The tunnel is opened below httpx's connection, in place of the TCP connection: httpx still
connects to the address `PinnedHttp` checked (or, with `connect="name"`, to the host name) and
still does TLS itself through the tunnel, with the destination's name as server name and for
certificate verification. httpx's own proxy support cannot keep both: it asks the proxy for
the URL's host, which is the checked address, and then verifies the certificate against that
address.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpcore
import httpx

from services.notify.config import DeliverySettings
from shared.runtime.settings import read_secret_file

# A CONNECT answer is a status line and a few headers; more is not a proxy.
MAX_ANSWER_BYTES = 16 * 1024
PASSWORD_FILE_SETTING = "NOTIFY_DELIVERY__EGRESS_PROXY_PASSWORD_FILE"


@dataclass(frozen=True, slots=True)
class EgressProxy:
    host: str
    port: int
    username: str = ""
    password_file: Path | None = None  # read at every tunnel: a rotated Secret applies at once

    def authorization(self) -> bytes | None:
        """The Proxy-Authorization value (Basic), or None without credentials."""
        if self.password_file is None:
            return None
        password = read_secret_file(self.password_file, PASSWORD_FILE_SETTING).get_secret_value()
        token = base64.b64encode(f"{self.username}:{password}".encode())
        return b"Basic " + token


def egress_proxy(settings: DeliverySettings) -> EgressProxy | None:
    """The proxy `NOTIFY_DELIVERY__EGRESS_PROXY...` configure, or None (direct)."""
    if not settings.egress_proxy:
        return None
    host, port = settings.proxy_address()
    return EgressProxy(
        host, port, settings.egress_proxy_username, settings.egress_proxy_password_file
    )


def _authority(host: str, port: int) -> bytes:
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}".encode("ascii")  # httpx gives the host as IDNA already


class TunnelBackend(httpcore.AsyncNetworkBackend):
    """Each TCP connection httpx asks for is a CONNECT tunnel through the proxy to that
    host and port (the proxy sees nothing else: TLS, the request and the answer go inside)."""

    def __init__(
        self, proxy: EgressProxy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.proxy = proxy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self.inner.connect_tcp(
            self.proxy.host, self.proxy.port, timeout, local_address, socket_options
        )
        try:
            target = _authority(host, port)
            request = b"CONNECT %b HTTP/1.1\r\nHost: %b\r\n" % (target, target)
            authorization = self.proxy.authorization()
            if authorization is not None:
                request += b"Proxy-Authorization: %b\r\n" % authorization
            await stream.write(request + b"\r\n", timeout)
            await _read_answer(stream, target, timeout)
        except BaseException:
            await stream.aclose()
            raise
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("deliveries never use a Unix socket")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


async def _read_answer(
    stream: httpcore.AsyncNetworkStream, target: bytes, read_timeout: float | None
) -> None:
    """Reads the proxy's answer to CONNECT; returns when the tunnel is open (2xx)."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = await stream.read(MAX_ANSWER_BYTES, read_timeout)
        if not chunk:
            raise httpcore.ProxyError(
                f"the proxy closed the connection (CONNECT {target.decode()})"
            )
        answer += chunk
        if len(answer) > MAX_ANSWER_BYTES:
            raise httpcore.ProxyError("the proxy's answer to CONNECT is too long")
    head, _, rest = answer.partition(b"\r\n\r\n")
    if rest:  # the destination speaks only after us: bytes here come from the proxy
        raise httpcore.ProxyError("the proxy sent data after its answer to CONNECT")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise httpcore.ProxyError(f"not an HTTP answer to CONNECT: {status_line[:80]!r}")
    if not 200 <= int(parts[1]) < 300:
        raise httpcore.ProxyError(
            f"the proxy refused CONNECT {target.decode()}: {status_line[len(parts[0]) + 1 :]}"
        )


class TunnelTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose connections are tunnels. httpx takes no
    network backend, so its pool is replaced by an equal one on ours; the request and
    response conversion and the mapping of errors (a refusal is `httpx.ProxyError`) stay
    httpx's."""

    def __init__(
        self,
        proxy: EgressProxy,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        limits = limits or httpx.Limits()
        super().__init__(verify=verify, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=TunnelBackend(proxy),
        )


def delivery_client(
    *,
    timeout_s: float,
    max_connections: int,
    proxy: EgressProxy | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """The client `PinnedHttp` posts with; never proxies from the environment (HTTPS_PROXY would
    send the checked address to a proxy of its own choosing)."""
    limits = httpx.Limits(max_connections=max_connections)
    transport = None if proxy is None else TunnelTransport(proxy, verify=verify, limits=limits)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=False,
        trust_env=False,
        limits=limits,
        verify=verify,
        transport=transport,
    )
