"""The Kafka settings (security, secrets from files) and the classification of access errors."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import cast

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka import errors as kafka_errors
from pydantic import ValidationError

from shared.runtime import kafka_security
from shared.runtime.kafka import TransientError, is_transient
from shared.runtime.kafka_security import (
    KafkaAccessError,
    client_options,
    faststream_security,
)
from shared.runtime.settings import KafkaSettings


@pytest.mark.parametrize(
    "exc",
    [
        kafka_errors.TopicAuthorizationFailedError("planwatch.accepted"),
        kafka_errors.GroupAuthorizationFailedError("planwatch-scoring"),
        kafka_errors.ClusterAuthorizationFailedError(),
        kafka_errors.TransactionalIdAuthorizationFailed(),
        kafka_errors.SaslAuthenticationFailed("bad password"),
        kafka_errors.UnsupportedSaslMechanismError(),
        ssl.SSLCertVerificationError("certificate verify failed"),
        KafkaAccessError("denied"),
    ],
)
def test_access_errors_are_permanent(exc: BaseException) -> None:
    assert not is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        kafka_errors.KafkaConnectionError("Unable to bootstrap"),
        kafka_errors.NotLeaderForPartitionError(),
        TimeoutError(),
        TransientError("away"),
    ],
)
def test_unavailability_is_transient(exc: BaseException) -> None:
    assert is_transient(exc)


def test_password_from_a_file_and_never_printed(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cr3t-from-file\n", encoding="utf-8")
    settings = KafkaSettings(
        security_protocol="SASL_PLAINTEXT",
        sasl_username="planwatch-ingest",
        sasl_password_file=secret,
    )
    assert settings.sasl_password.get_secret_value() == "s3cr3t-from-file"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings.model_dump())
    options = client_options(settings)
    assert options["sasl_plain_password"] == "s3cr3t-from-file"
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert "ssl_context" not in options


def test_an_unreadable_password_file_names_the_file_not_the_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD_FILE"):
        KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_username="u",
            sasl_password_file=tmp_path / "missing",
        )


def test_sasl_needs_credentials_and_a_user_needs_sasl() -> None:
    with pytest.raises(ValidationError, match="needs KAFKA_SASL_USERNAME"):
        KafkaSettings(security_protocol="SASL_SSL")
    with pytest.raises(ValidationError, match="SASL_SSL"):
        KafkaSettings(sasl_username="u", sasl_password="p")


def test_tls_verifies_the_host_name_by_default() -> None:
    settings = KafkaSettings(
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="u",
        sasl_password="p",
    )
    context = client_options(settings)["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    security = faststream_security(settings)
    assert security is not None and security.use_ssl
    assert type(security).__name__ == "SASLScram256"


def test_plaintext_has_no_security_object() -> None:
    assert faststream_security(KafkaSettings()) is None
    assert client_options(KafkaSettings())["security_protocol"] == "PLAINTEXT"


class _StopRaisesItsFetchCancellation:
    """aiokafka's consumer whose fetch task was backing off from a broker that went away."""

    async def stop(self) -> None:
        raise asyncio.CancelledError


async def test_the_preflight_survives_aiokafka_s_stray_cancellation_but_not_its_own() -> None:
    consumer = cast(AIOKafkaConsumer, _StopRaisesItsFetchCancellation())
    await kafka_security._stop(consumer)  # not this task's cancellation: dropped

    async def cancelled_while_stopping() -> None:
        current = asyncio.current_task()
        assert current is not None
        current.cancel()
        await kafka_security._stop(consumer)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(cancelled_while_stopping())
