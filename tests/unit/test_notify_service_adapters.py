"""notify's adapter pieces without servers: the SSRF-pinned POST (through httpx's mock
transport), secret references, robot answers, stored-record round trips, the manual clock,
the routing file reader and the settings."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.notify.clock import ManualClock
from services.notify.config import NotifySettings
from services.notify.domain.alert import Alert
from services.notify.domain.config import RoutingConfigError
from services.notify.domain.delivery import OutcomeKind
from services.notify.domain.nflog import LogEntry
from services.notify.domain.receivers import SecretRef
from services.notify.pinned_http import DestinationRefusedError, PinnedHttp, Resolver
from services.notify.records import PendingNotification
from services.notify.routing_file import load_routing_file
from services.notify.secrets import SecretUnavailableError, resolve_secret
from services.notify.senders import _robot_answer

NOW = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def fixed(*addresses: str) -> Resolver:
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


async def test_post_goes_to_the_checked_address_with_the_original_host() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "7"}, content=b"slow down")

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    http = PinnedHttp(client, fixed("93.184.216.34"))
    answer = await http.post(
        "https://hooks.example.org:8443/p?q=1", b"{}", {"X-A": "b"}, allow_private=False
    )
    await client.aclose()
    assert (answer.status, answer.retry_after, answer.body) == (429, "7", b"slow down")
    [request] = seen
    assert str(request.url) == "https://93.184.216.34:8443/p?q=1"
    assert request.headers["host"] == "hooks.example.org:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.org"
    assert request.headers["x-a"] == "b"


@pytest.mark.parametrize(
    ("url", "addresses", "why"),
    [
        ("http://intranet.example/", ["10.1.2.3"], "private"),
        ("http://mixed.example/", ["93.184.216.34", "127.0.0.1"], "loopback"),
        ("http://meta.example/", ["169.254.169.254"], "link-local"),
        ("ftp://files.example/", ["93.184.216.34"], "scheme"),
    ],
)
async def test_non_public_destinations_are_refused(
    url: str, addresses: list[str], why: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(DestinationRefusedError, match=why):
            await PinnedHttp(client, fixed(*addresses)).post(url, b"", {}, allow_private=False)


async def test_allow_private_lifts_the_rule() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        http = PinnedHttp(client, fixed("127.0.0.1"))
        answer = await http.post("http://localhost:9/x", b"", {}, allow_private=True)
    assert answer.status == 204


def test_secret_references(tmp_path: Path) -> None:
    assert resolve_secret(SecretRef("env:A"), {"A": " v \n"}) == "v"
    with pytest.raises(SecretUnavailableError, match="env:B"):
        resolve_secret(SecretRef("env:B"), {})
    path = tmp_path / "s"
    path.write_text("file-secret\n")
    assert resolve_secret(SecretRef(f"file:{path}")) == "file-secret"
    with pytest.raises(SecretUnavailableError, match="missing"):
        resolve_secret(SecretRef(f"file:{tmp_path}/missing"))


def test_robot_answers() -> None:
    assert _robot_answer(b'{"errcode": 0, "errmsg": "ok"}') is None
    assert _robot_answer(b"not json") is None
    limited = _robot_answer(b'{"errcode": 45009, "errmsg": "api freq out of limit"}')
    assert limited is not None and limited.kind is OutcomeKind.RETRY
    refused = _robot_answer(b'{"errcode": 310000, "errmsg": "sign not match"}')
    assert refused is not None and refused.kind is OutcomeKind.FAILED
    assert "310000" in refused.reason


def test_pending_notification_round_trips_exactly() -> None:
    alert = Alert(
        fingerprint="ab",
        labels={"alertname": "x"},
        starts_at=NOW,
        updated_at=NOW + timedelta(microseconds=123456),
    )
    entry = LogEntry(
        group_key="{}:{}",
        integration="r/webhook/0",
        firing=frozenset({"ab"}),
        resolved=frozenset(),
        timestamp=NOW + timedelta(microseconds=7),
    )
    pending = PendingNotification(
        id="g:0:r/webhook/0",
        webhook_id="msg_1",
        group_id="g",
        group_key="{}:{}",
        group_labels={},
        receiver="r",
        integration="r/webhook/0",
        reason="first notification",
        alerts=[alert],
        record_only=False,
        entry=entry,
        created_at=NOW,
        next_attempt_at=NOW,
    )
    again = PendingNotification.model_validate(pending.model_dump(mode="json"))
    assert again == pending and again.entry == entry  # microseconds kept: exact equality


def test_manual_clock() -> None:
    clock = ManualClock(NOW)
    assert clock.advance(30) == NOW + timedelta(seconds=30)
    clock.set(NOW)
    assert clock.now() == NOW
    with pytest.raises(ValueError, match="timezone"):
        ManualClock(datetime(2025, 1, 1))  # naive: refused


def test_routing_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("route:\n  receiver: a\n  group_wait: soon\nreceivers:\n  - name: a\n")
    with pytest.raises(RoutingConfigError) as refused:
        load_routing_file(path)
    assert f"{path}:3: " in str(refused.value)
    with pytest.raises(RoutingConfigError, match=r"missing\.yaml:0: cannot read"):
        load_routing_file(tmp_path / "missing.yaml")


def test_shipped_routing_file_loads() -> None:
    config = load_routing_file(NotifySettings().routing_file)
    assert "notifications-kafka" in config.receivers
    assert len(config.receivers) == 37  # with `leadership`, the escalation's last step
    # The monthly report's recipients (`planwatch report --send-to leadership-report`).
    [report] = config.receivers["leadership-report"].integrations
    assert report.config.type.value == "email"


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NOTIFY_ROUTING_FILE", str(tmp_path / "x.yaml"))
    monkeypatch.setenv("NOTIFY_SMTP__PORT", "2525")
    monkeypatch.setenv("NOTIFY_DELIVERY__MAX_ATTEMPTS", "4")
    settings = NotifySettings()
    assert settings.routing_file == tmp_path / "x.yaml"
    assert settings.smtp.port == 2525
    assert settings.delivery.policy().max_attempts == 4


class _Endless(httpx.AsyncByteStream):
    """A body that keeps coming: 1 MiB chunks without end, or, once `stall` is set, nothing."""

    def __init__(self, *, stall: bool = False) -> None:
        self.stall = stall
        self.sent = 0

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        if self.stall:
            await asyncio.Event().wait()  # never answers past the headers
        while True:
            self.sent += 1
            yield b"x" * (1 << 20)


async def test_a_huge_response_body_is_read_only_up_to_the_cap() -> None:
    body = _Endless()
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, stream=body))
    )
    http = PinnedHttp(client, fixed("93.184.216.34"), max_response_bytes=1000)
    answer = await http.post("https://hooks.example.org/", b"{}", {}, allow_private=False)
    await client.aclose()
    assert answer.status == 200 and answer.body == b"x" * 1000
    assert body.sent == 1  # the endless body was not read on


async def test_an_attempt_ends_by_its_deadline_whatever_the_receiver_does() -> None:
    client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, stream=_Endless(stall=True)))
    )
    http = PinnedHttp(client, fixed("93.184.216.34"), max_attempt_s=0.05)
    with pytest.raises(httpx.TimeoutException, match=r"longer than 0\.05 s"):
        await asyncio.wait_for(
            http.post("https://hooks.example.org/", b"{}", {}, allow_private=False), 30
        )
    await client.aclose()
