"""Deliveries through an egress proxy (HTTP CONNECT): a local proxy records what it is asked and
tunnels to a local receiver (TLS with a certificate for the receiver's name only, from a CA
made here). The SSRF rule is applied first: a refused destination never reaches the proxy;
the proxy is asked for the checked address (or the name, when so configured); TLS inside the
tunnel names and verifies the destination host."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from planwatch.infra.local_ca import LocalCa
from services.notify.config import NotifySettings
from services.notify.egress import EgressProxy, delivery_client, egress_proxy
from services.notify.pinned_http import DestinationRefusedError, PinnedHttp, Resolver

HOST = "hooks.example.org"
PUBLIC = "93.184.216.34"  # what the fake resolver answers for HOST: a public address
WAIT_S = 10.0  # every wait below is for a condition, bounded by this


def fixed(*addresses: str) -> Resolver:
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


# --- a CA and a certificate for HOST -------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext  # trusts only the CA made here
    server_names: list[str | None]  # the SNI of every handshake


def make_tls(tmp: Path) -> Tls:
    ca = LocalCa.create("test CA", dt.timedelta(hours=1))
    leaf = ca.issue([HOST])
    (tmp / "ca.pem").write_bytes(ca.cert_pem)
    (tmp / "leaf.pem").write_bytes(leaf.cert_pem)
    (tmp / "leaf.key").write_bytes(leaf.key_pem)
    names: list[str | None] = []
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")

    def remember(_obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    server.sni_callback = remember
    client = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    return Tls(server, client, names)


# --- the receiver and the proxy ------------------------------------------------------------


@dataclass
class Receiver:
    """Answers 204 to one request per connection; records the request line, Host and body."""

    requests: list[tuple[str, str, bytes]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if h)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((head[0], headers["host"], body))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()


@dataclass
class Proxy:
    """A CONNECT proxy that records each request's target and Proxy-Authorization, answers
    `status`, and (on 200) tunnels to `upstream` whatever the target."""

    upstream: int
    status: bytes = b"200 Connection established"
    connects: list[tuple[str, str | None]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, _ = head[0].split(" ")
        assert method == "CONNECT"
        headers = {
            k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in head[1:] if h)
        }
        self.connects.append((target, headers.get("proxy-authorization")))
        writer.write(b"HTTP/1.1 " + self.status + b"\r\n\r\n")
        if not self.status.startswith(b"200"):
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@dataclass
class Setup:
    tls: Tls
    receiver: Receiver
    proxy: Proxy
    proxy_port: int
    plain_receiver: Receiver
    plain_port: int


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    tls = make_tls(tmp_path)
    receiver, plain = Receiver(), Receiver()
    tls_server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0, ssl=tls.server)
    plain_server = await asyncio.start_server(plain.handle, "127.0.0.1", 0)
    proxy = Proxy(upstream=tls_server.sockets[0].getsockname()[1])
    proxy_server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    servers = (tls_server, plain_server, proxy_server)
    try:
        yield Setup(
            tls,
            receiver,
            proxy,
            proxy_server.sockets[0].getsockname()[1],
            plain,
            plain_server.sockets[0].getsockname()[1],
        )
    finally:
        for server in servers:
            server.close()
        async with asyncio.timeout(WAIT_S):
            for server in servers:
                await server.wait_closed()


def _http(setup: Setup, proxy: EgressProxy, *, by_name: bool = False) -> PinnedHttp:
    client = delivery_client(
        timeout_s=WAIT_S, max_connections=4, proxy=proxy, verify=setup.tls.client
    )
    return PinnedHttp(client, fixed(PUBLIC), max_attempt_s=WAIT_S, connect_by_name=by_name)


async def test_the_proxy_is_asked_for_the_checked_address_and_tls_names_the_host(
    setup: Setup,
) -> None:
    http = _http(setup, EgressProxy("127.0.0.1", setup.proxy_port))
    answer = await http.post(f"https://{HOST}/hook?x=1", b'{"a": 1}', {}, allow_private=False)
    await http.client.aclose()
    assert answer.status == 204
    assert setup.proxy.connects == [(f"{PUBLIC}:443", None)]
    # The certificate names HOST only: the handshake verified the name, not the address.
    assert setup.tls.server_names == [HOST]
    assert setup.receiver.requests == [("POST /hook?x=1 HTTP/1.1", HOST, b'{"a": 1}')]


async def test_by_name_the_proxy_is_asked_for_the_host(setup: Setup) -> None:
    http = _http(setup, EgressProxy("127.0.0.1", setup.proxy_port), by_name=True)
    answer = await http.post(f"https://{HOST}:8443/h", b"{}", {}, allow_private=False)
    await http.client.aclose()
    assert answer.status == 204
    assert setup.proxy.connects == [(f"{HOST}:8443", None)]
    assert setup.tls.server_names == [HOST]
    assert setup.receiver.requests == [("POST /h HTTP/1.1", f"{HOST}:8443", b"{}")]


async def test_plain_http_is_tunnelled_too(setup: Setup) -> None:
    setup.proxy.upstream = setup.plain_port
    http = _http(setup, EgressProxy("127.0.0.1", setup.proxy_port))
    answer = await http.post(f"http://{HOST}:8080/p", b"x", {}, allow_private=False)
    await http.client.aclose()
    assert answer.status == 204
    assert setup.proxy.connects == [(f"{PUBLIC}:8080", None)]
    assert setup.plain_receiver.requests == [("POST /p HTTP/1.1", f"{HOST}:8080", b"x")]


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "169.254.169.254"])
@pytest.mark.parametrize("by_name", [False, True])
async def test_a_refused_destination_never_reaches_the_proxy(
    setup: Setup, address: str, by_name: bool
) -> None:
    client = delivery_client(
        timeout_s=WAIT_S,
        max_connections=4,
        proxy=EgressProxy("127.0.0.1", setup.proxy_port),
        verify=setup.tls.client,
    )
    http = PinnedHttp(client, fixed(address), max_attempt_s=WAIT_S, connect_by_name=by_name)
    with pytest.raises(DestinationRefusedError):
        await http.post(f"https://{HOST}/hook", b"{}", {}, allow_private=False)
    await client.aclose()
    assert setup.proxy.connects == []


async def test_proxy_credentials_and_refusals(setup: Setup, tmp_path: Path) -> None:
    (tmp_path / "proxy-password").write_text("s3cret\n")
    proxy = EgressProxy("127.0.0.1", setup.proxy_port, "notify", tmp_path / "proxy-password")
    http = _http(setup, proxy)
    assert (await http.post(f"https://{HOST}/", b"", {}, allow_private=False)).status == 204
    expected = "Basic " + base64.b64encode(b"notify:s3cret").decode()
    assert setup.proxy.connects == [(f"{PUBLIC}:443", expected)]
    await http.client.aclose()

    setup.proxy.status = b"407 Proxy Authentication Required"
    http = _http(setup, proxy)
    with pytest.raises(httpx.ProxyError, match=f"refused CONNECT {PUBLIC}:443: 407"):
        await http.post(f"https://{HOST}/", b"", {}, allow_private=False)
    await http.client.aclose()
    assert setup.receiver.requests == [("POST / HTTP/1.1", HOST, b"")]


def test_proxy_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_DELIVERY__EGRESS_PROXY", "http://proxy.internal:3128")
    assert egress_proxy(NotifySettings().delivery) == EgressProxy("proxy.internal", 3128)
    (tmp_path / "pw").write_text("x")
    monkeypatch.setenv("NOTIFY_DELIVERY__EGRESS_PROXY_USERNAME", "notify")
    monkeypatch.setenv("NOTIFY_DELIVERY__EGRESS_PROXY_PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("NOTIFY_DELIVERY__EGRESS_PROXY_CONNECT", "name")
    delivery = NotifySettings().delivery
    assert egress_proxy(delivery) == EgressProxy("proxy.internal", 3128, "notify", tmp_path / "pw")
    assert delivery.egress_proxy_connect == "name"
    monkeypatch.delenv("NOTIFY_DELIVERY__EGRESS_PROXY")
    monkeypatch.delenv("NOTIFY_DELIVERY__EGRESS_PROXY_USERNAME")
    monkeypatch.delenv("NOTIFY_DELIVERY__EGRESS_PROXY_PASSWORD_FILE")
    monkeypatch.delenv("NOTIFY_DELIVERY__EGRESS_PROXY_CONNECT")
    assert egress_proxy(NotifySettings().delivery) is None


@pytest.mark.parametrize(
    ("env", "why"),
    [
        ({"EGRESS_PROXY": "https://proxy:3128"}, "http://host:port"),
        ({"EGRESS_PROXY": "http://proxy"}, "http://host:port"),
        ({"EGRESS_PROXY": "http://u:p@proxy:3128"}, "no credentials in the URL"),
        ({"EGRESS_PROXY": "http://proxy:3128/x"}, "no path"),
        ({"EGRESS_PROXY": "http://proxy:99999"}, "bad port"),
        ({"EGRESS_PROXY": "http://proxy:3128", "EGRESS_PROXY_USERNAME": "u"}, "or neither"),
        ({"EGRESS_PROXY_USERNAME": "u"}, "without NOTIFY_DELIVERY__EGRESS_PROXY"),
        ({"EGRESS_PROXY_CONNECT": "name"}, "needs an egress proxy"),
        (
            {
                "EGRESS_PROXY": "http://p:1",
                "EGRESS_PROXY_USERNAME": "u",
                "EGRESS_PROXY_PASSWORD_FILE": "/nonexistent/pw",
            },
            "cannot read",
        ),
    ],
)
def test_bad_proxy_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], why: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(f"NOTIFY_DELIVERY__{name}", value)
    with pytest.raises(ValidationError, match=why):
        NotifySettings()
