"""Secrets come from files (`*_FILE`) or environment references, are held as SecretStr, and
never reach the logs; MongoDB TLS options reach the client; SMTP never logs in without TLS
unless explicitly allowed."""

from __future__ import annotations

import asyncio
import os
import secrets
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from planwatch.infra.ports import free_port
from services.ingest.app import create_app as create_ingest
from services.ingest.config import IngestSettings
from services.notify.config import NotifySettings, SmtpSettings
from services.notify.senders import send_mail
from services.scoring.config import ScoringSettings
from shared.runtime.host import ServiceHost
from shared.runtime.mongo import make_client
from shared.runtime.settings import MongoSettings
from tests.token_issuer import LocalIssuer


@pytest.fixture(autouse=True)
def _no_platform_settings_from_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests set the settings they read; the runner's own KAFKA_* and MONGODB_* (the
    README's way to run the suite against a running Kafka and MongoDB) are not theirs."""
    for key in list(os.environ):
        if key.startswith(("KAFKA_", "MONGODB_", "INGEST_", "SCORING_", "NOTIFY_")):
            monkeypatch.delenv(key)


def _write(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value + "\n", encoding="utf-8")
    return path


def _closed_port() -> int:
    return free_port()  # nothing listens there


# --- MongoDB: the URI from a file, TLS ---------------------------------------------------------


def test_mongodb_uri_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = "mongodb://planwatch-scoring:s3cr%2Ft@db.example:27017/planwatch?authSource=planwatch"
    monkeypatch.setenv("MONGODB_URI_FILE", str(_write(tmp_path, "uri", uri)))
    settings = ScoringSettings()
    assert settings.mongo.uri.get_secret_value() == uri
    assert "s3cr" not in repr(settings) and "s3cr" not in str(settings.mongo)
    assert "s3cr" not in settings.model_dump_json()


def test_mongodb_uri_and_its_file_together_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGODB_URI_FILE", str(_write(tmp_path, "uri", "mongodb://a/")))
    monkeypatch.setenv("MONGODB_URI", "mongodb://b/")
    with pytest.raises(ValidationError, match="not both"):
        MongoSettings()


@pytest.mark.parametrize("content", ["", "\n"])
def test_an_empty_or_missing_secret_file_is_refused_by_name(tmp_path: Path, content: str) -> None:
    empty = tmp_path / "uri"
    empty.write_text(content)
    with pytest.raises(ValidationError, match="is empty"):
        MongoSettings(uri_file=empty)
    with pytest.raises(ValidationError, match="cannot read"):
        MongoSettings(uri_file=tmp_path / "absent")


def test_mongodb_client_options_without_tls() -> None:
    kwargs = MongoSettings().client_kwargs()
    assert "tls" not in kwargs and "tlsCAFile" not in kwargs
    assert kwargs["tz_aware"] is True


def test_mongodb_tls_options_reach_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = _write(tmp_path, "ca.pem", "CA")
    cert = _write(tmp_path, "client.pem", "CERT+KEY")
    monkeypatch.setenv("MONGODB_TLS", "true")
    monkeypatch.setenv("MONGODB_TLS_CA_FILE", str(ca))
    monkeypatch.setenv("MONGODB_TLS_CERTIFICATE_KEY_FILE", str(cert))
    kwargs = MongoSettings().client_kwargs()
    assert kwargs["tls"] is True
    assert kwargs["tlsCAFile"] == str(ca)
    assert kwargs["tlsCertificateKeyFile"] == str(cert)
    assert "tlsAllowInvalidHostnames" not in kwargs and "tlsInsecure" not in kwargs
    # The key administrator's login keeps the server's TLS.
    other = MongoSettings().with_uri(SecretStr("mongodb://planwatch-keyadmin:x@db/"))
    assert other.client_kwargs() == kwargs


def test_mongodb_tls_only_ca(tmp_path: Path) -> None:
    ca = _write(tmp_path, "ca.pem", "CA")
    kwargs = MongoSettings(tls=True, tls_ca_file=ca).client_kwargs()
    assert kwargs["tls"] is True and kwargs["tlsCAFile"] == str(ca)
    assert "tlsCertificateKeyFile" not in kwargs


def test_mongodb_tls_files_without_tls_or_missing_are_refused(tmp_path: Path) -> None:
    ca = _write(tmp_path, "ca.pem", "CA")
    with pytest.raises(ValidationError, match="MONGODB_TLS=true"):
        MongoSettings(tls_ca_file=ca)
    with pytest.raises(ValidationError, match="is not a file"):
        MongoSettings(tls=True, tls_ca_file=tmp_path / "absent.pem")


def test_the_pymongo_client_takes_the_tls_options(tmp_path: Path) -> None:
    """The options are PyMongo's own: an AsyncMongoClient accepts them (no connection made)."""
    client = make_client(MongoSettings(tls=True, server_selection_timeout_ms=100))
    pool = client.options.pool_options
    assert pool.tls_allow_invalid_hostnames is False
    assert pool._ssl_context is not None and pool._ssl_context.check_hostname
    asyncio.run(client.close())
    bad_ca = _write(tmp_path, "ca.pem", "not a certificate")  # PyMongo reads the CA file
    with pytest.raises(Exception, match=r"(?i)ssl|certificate|pem"):
        make_client(MongoSettings(tls=True, tls_ca_file=bad_ca))


# --- ingest: the key administrator's login ------------------------------------------------------


def test_ingest_key_admin_login_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = "mongodb://planwatch-ingest:a@db/planwatch"
    admin = "mongodb://planwatch-keyadmin:b@db/planwatch"
    monkeypatch.setenv("MONGODB_URI_FILE", str(_write(tmp_path, "uri", data)))
    monkeypatch.setenv("MONGODB_DATABASE", "pw")
    monkeypatch.setenv("INGEST_KEY_ADMIN_MONGODB_URI_FILE", str(_write(tmp_path, "admin", admin)))
    settings = IngestSettings()
    assert settings.mongo.uri.get_secret_value() == data
    key_admin = settings.key_admin_mongo()
    assert key_admin.uri.get_secret_value() == admin and key_admin.database == "pw"
    monkeypatch.setenv("INGEST_KEY_ADMIN_MONGODB_URI", admin)
    with pytest.raises(ValidationError, match="not both"):
        IngestSettings()


def test_without_a_key_admin_login_the_data_path_login_is_used() -> None:
    settings = IngestSettings()
    assert settings.key_admin_mongo() is settings.mongo


# --- SMTP --------------------------------------------------------------------------------------


def test_smtp_login_without_tls_is_refused_by_default() -> None:
    with pytest.raises(ValidationError, match="without TLS"):
        SmtpSettings(username="planwatch", password=SecretStr("x"))
    SmtpSettings(username="planwatch", password=SecretStr("x"), starttls=True)
    SmtpSettings(username="planwatch", password=SecretStr("x"), ssl=True)
    SmtpSettings(username="planwatch", password=SecretStr("x"), allow_plaintext_login=True)
    SmtpSettings()  # no login: nothing to protect (e.g. the local Mailpit)
    assert SmtpSettings().allow_plaintext_login is False


def test_smtp_password_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SMTP__USERNAME", "planwatch")
    monkeypatch.setenv("NOTIFY_SMTP__STARTTLS", "true")
    monkeypatch.setenv("NOTIFY_SMTP__PASSWORD_FILE", str(_write(tmp_path, "smtp", "m41l")))
    smtp = NotifySettings().smtp
    assert smtp.login_password().get_secret_value() == "m41l"
    _write(tmp_path, "smtp", "rotated")  # read at every login
    assert smtp.login_password().get_secret_value() == "rotated"
    monkeypatch.setenv("NOTIFY_SMTP__PASSWORD", "also")
    with pytest.raises(ValidationError, match="not both"):
        NotifySettings()


class _FakeSmtp:
    calls: ClassVar[list[tuple[str, Any]]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.clear()

    def __enter__(self) -> _FakeSmtp:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def starttls(self, **kwargs: Any) -> None:
        self.calls.append(("starttls", None))

    def login(self, user: str, password: str) -> None:
        self.calls.append(("login", (user, password)))

    def send_message(self, message: EmailMessage) -> dict[str, Any]:
        self.calls.append(("send", None))
        return {}


def _mail() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@x.invalid", "b@x.invalid", "s"
    message.set_content("x")
    return message


def test_send_mail_logs_in_only_after_starttls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtplib, "SMTP", _FakeSmtp)
    settings = SmtpSettings(username="u", password=SecretStr("p"), starttls=True)
    attempt = send_mail(settings, _mail())
    assert attempt.status == 250
    assert [c[0] for c in _FakeSmtp.calls] == ["starttls", "login", "send"]


def test_send_mail_refuses_a_plaintext_login_even_if_the_settings_were_bypassed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(smtplib, "SMTP", _FakeSmtp)
    _FakeSmtp.calls.clear()
    settings = SmtpSettings.model_construct(
        username="u",
        password=SecretStr("p"),
        starttls=False,
        ssl=False,
        allow_plaintext_login=False,
        password_file=None,
        host="h",
        port=25,
        timeout_s=1.0,
    )
    attempt = send_mail(settings, _mail())
    assert attempt.outcome.kind.value == "failed" and "TLS" in attempt.outcome.reason
    assert _FakeSmtp.calls == []  # not even connected
    allowed = settings.model_copy(update={"allow_plaintext_login": True})
    assert send_mail(allowed, _mail()).status == 250
    assert ("login", ("u", "p")) in _FakeSmtp.calls


# --- no secret in the logs ----------------------------------------------------------------------


def test_a_service_flow_never_logs_the_secrets_it_used(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The services configured with secrets in files and variables, their dependencies down:
    readiness, start-up errors, refused and accepted calls, a failed SMTP login are logged,
    and none of the secret values is."""
    values = {
        name: f"{name}-{secrets.token_hex(8)}"
        for name in ("mongo", "admin", "kafka", "smtp", "whsec")
    }
    port = _closed_port()
    uri = f"mongodb://planwatch-ingest:{values['mongo']}@127.0.0.1:{port}/planwatch?authSource=planwatch"
    admin = f"mongodb://planwatch-keyadmin:{values['admin']}@127.0.0.1:{port}/planwatch"
    monkeypatch.setenv("MONGODB_URI_FILE", str(_write(tmp_path, "uri", uri)))
    monkeypatch.setenv("MONGODB_SERVER_SELECTION_TIMEOUT_MS", "200")
    monkeypatch.setenv("INGEST_KEY_ADMIN_MONGODB_URI_FILE", str(_write(tmp_path, "admin", admin)))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{port}")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "planwatch-ingest")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", values["kafka"])
    monkeypatch.setenv("NOTIFY_SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("NOTIFY_SMTP__PORT", str(port))
    monkeypatch.setenv("NOTIFY_SMTP__USERNAME", "planwatch")
    monkeypatch.setenv("NOTIFY_SMTP__STARTTLS", "true")
    monkeypatch.setenv("NOTIFY_SMTP__PASSWORD_FILE", str(_write(tmp_path, "smtp", values["smtp"])))
    monkeypatch.setenv("PLANWATCH_WEBHOOK_SECRET_COORDINATOR", f"whsec_{values['whsec']}")
    issuer = LocalIssuer()
    auth = issuer.settings(tmp_path / "jwks.json")
    token = issuer.mint("log-check", ["keys:admin", "events:write"])

    ingest = IngestSettings(auth=auth, verify_worker=False)
    notify = NotifySettings(auth=auth)
    scoring = ScoringSettings(auth=auth)

    async def flow() -> None:
        for name, settings in (("ingest", ingest), ("notify", notify), ("scoring", scoring)):
            host = ServiceHost.create(name, settings)
            try:
                readiness = await host.ready()
                assert "mongodb" in readiness.down
            finally:
                await host.mongo.close()

    asyncio.run(flow())
    app = create_ingest(ingest)
    client = TestClient(app, raise_server_exceptions=False)  # no start-up: MongoDB is down
    accepted = client.get("/v1/admin/keys", headers={"Authorization": f"Bearer {token}"})
    assert accepted.status_code >= 500  # authenticated, then the registry is unreachable
    refused = client.get("/v1/admin/keys", headers={"Authorization": "Bearer not-a-token"})
    assert refused.status_code == 401
    attempt = send_mail(notify.smtp, _mail())
    assert attempt.outcome.kind.value == "retry"
    print(attempt.outcome.reason, repr(ingest), repr(notify), repr(scoring))
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "mongodb unavailable" in logged  # the logs were captured
    for value in [*values.values(), *token.split(".")]:
        assert value not in logged
