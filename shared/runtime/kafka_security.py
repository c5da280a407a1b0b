"""How every Kafka client of the project connects: one function turns `KafkaSettings` into
aiokafka's connection options (bootstrap, security protocol, SASL, TLS), and the preflight check
that tells an authentication or authorisation problem from an unreachable broker at start.

aiokafka hides why a bootstrap failed (`KafkaConnectionError: Unable to bootstrap`), so a wrong
password would look like a broker that is away and be retried for ever. `check_access` opens one
connection itself and reports the real cause as a `KafkaAccessError`, a permanent error.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.conn import create_conn
from aiokafka.helpers import create_ssl_context
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from shared.runtime.kafka_authorized_ops import TopicOperationsRequest, topic_write_refusals
from shared.runtime.logging import get_logger
from shared.runtime.settings import KafkaSettings

log = get_logger("planwatch.kafka")


class KafkaAccessError(Exception):
    """Kafka refused this client: authentication failed, TLS failed, or an ACL is missing. No
    retry cures it; the message says what to fix (it never holds a secret)."""


# Kafka errors that mean "this principal may not": a missing ACL or wrong credentials.
ACCESS_ERRORS: tuple[type[Exception], ...] = (
    kafka_errors.TopicAuthorizationFailedError,
    kafka_errors.GroupAuthorizationFailedError,
    kafka_errors.ClusterAuthorizationFailedError,
    kafka_errors.TransactionalIdAuthorizationFailed,
    kafka_errors.AuthenticationFailedError,
    kafka_errors.SaslAuthenticationFailed,
    kafka_errors.AuthenticationMethodNotSupported,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
    ssl.SSLError,  # includes SSLCertVerificationError: wrong CA, wrong host name
    KafkaAccessError,
)


_FETCH_ROUNDS = 10
_COORDINATOR_MOVING = (
    kafka_errors.GroupCoordinatorNotAvailableError,
    kafka_errors.CoordinatorLoadInProgressError,
    kafka_errors.NotCoordinatorForGroupError,
)


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (hostname verification on unless turned off)."""
    if not settings.uses_tls:
        return None
    key_password = settings.ssl_key_password.get_secret_value() or None
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.ssl_cafile,
        certfile=settings.ssl_certfile,
        keyfile=settings.ssl_keyfile,
        password=key_password,
    )
    context.check_hostname = settings.ssl_check_hostname
    return context


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """aiokafka's connection options for producers, consumers and admin clients: the one place
    where security options are built."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options


def faststream_security(settings: KafkaSettings) -> BaseSecurity | None:
    """The same options as FastStream's security object (for `KafkaBroker`)."""
    options = client_options(settings)
    context: ssl.SSLContext | None = options.get("ssl_context")
    use_ssl = settings.uses_tls
    if not settings.security_protocol.startswith("SASL_"):
        return BaseSecurity(ssl_context=context, use_ssl=use_ssl) if use_ssl else None
    kinds: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
        "PLAIN": SASLPlaintext,
        "SCRAM-SHA-256": SASLScram256,
        "SCRAM-SHA-512": SASLScram512,
    }
    return kinds[settings.sasl_mechanism](
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=context,
        use_ssl=use_ssl,
    )


def describe_access_error(exc: BaseException, settings: KafkaSettings, what: str = "") -> str:
    """A message that names the principal, the broker and what was refused."""
    if isinstance(exc, KafkaAccessError):
        return str(exc)
    who = settings.sasl_username or "(no SASL user)"
    where = f" on {what}" if what else ""
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS handshake with Kafka at {settings.bootstrap_servers} failed: {exc}; check"
            " KAFKA_SSL_CAFILE (the CA that signed the broker's certificate) and the host name"
        )
    if isinstance(
        exc, kafka_errors.SaslAuthenticationFailed | kafka_errors.AuthenticationFailedError
    ):
        return (
            f"Kafka at {settings.bootstrap_servers} refused the credentials of {who}"
            f" ({settings.sasl_mechanism}): {exc}"
        )
    if isinstance(exc, kafka_errors.UnsupportedSaslMechanismError):
        return f"Kafka at {settings.bootstrap_servers}: {exc}"
    kind = type(exc).__name__
    return f"Kafka denied {who}{where}: {kind} ({exc}); grant it in deploy/kafka-acls.yaml"


async def check_access(
    settings: KafkaSettings,
    *,
    read_topics: Iterable[str] = (),
    write_topics: Iterable[str] = (),
    groups: Iterable[str] = (),
    timeout_s: float = 15.0,
) -> None:
    """At start: can this client connect, authenticate, read and write its topics and use its
    groups?

    Raises KafkaAccessError (permanent) naming the refused credential, topic or group. An
    unreachable broker raises what aiokafka raises (transient: the caller retries).
    Write permission is read from the broker's authorised operations (nothing is written); a
    grant withdrawn later still surfaces at a send as TopicAuthorizationFailedError, permanent.
    """
    options = client_options(settings)
    host, _, port = settings.bootstrap_servers.split(",")[0].strip().rpartition(":")
    try:
        async with asyncio.timeout(timeout_s):
            conn = await create_conn(
                host.strip("[]"),
                int(port),
                client_id=f"{settings.client_id}-preflight",
                request_timeout_ms=int(timeout_s * 1000),
                ssl_context=options.get("ssl_context"),
                security_protocol=settings.security_protocol,
                sasl_mechanism=options.get("sasl_mechanism", "PLAIN"),
                sasl_plain_username=options.get("sasl_plain_username"),
                sasl_plain_password=options.get("sasl_plain_password"),
            )
            try:
                writable = sorted(set(write_topics))
                if writable:
                    await _check_writes(conn, settings, writable)
            finally:
                conn.close()
    except ACCESS_ERRORS as exc:
        raise KafkaAccessError(describe_access_error(exc, settings)) from None
    topics = sorted(set(read_topics))
    wanted_groups = sorted(set(groups))
    if topics:
        await _check_reads(settings, topics, timeout_s)
    if wanted_groups:
        await _check_groups(settings, wanted_groups, timeout_s)


async def _check_writes(conn: Any, settings: KafkaSettings, topics: list[str]) -> None:
    """Ask the broker which of `topics` this principal may write (nothing is written)."""
    response = await conn.send(TopicOperationsRequest(topics))
    refused = topic_write_refusals(response.topics)
    if refused:
        who = settings.sasl_username or "this client"
        details = "; ".join(f"{topic}: {why}" for topic, why in sorted(refused.items()))
        raise KafkaAccessError(
            f"Kafka will not let {who} WRITE topic(s) {', '.join(sorted(refused))} ({details});"
            " grant it in deploy/kafka-acls.yaml, or create the topic"
        )


async def _check_reads(settings: KafkaSettings, topics: list[str], timeout_s: float) -> None:
    """A fetch at the end of partition 0 of each topic: Kafka checks READ on every fetch."""
    consumer = AIOKafkaConsumer(
        **client_options(settings),
        client_id=f"{settings.client_id}-preflight",
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(timeout_s * 1000),
        fetch_max_wait_ms=100,
    )
    try:
        async with asyncio.timeout(timeout_s):
            await consumer.start()
            visible = await consumer.topics()
            for topic in topics:
                if topic not in visible:
                    raise KafkaAccessError(
                        f"Kafka does not show topic {topic!r} to {settings.sasl_username or 'this'}"
                        " client: it does not exist or DESCRIBE is not granted"
                    )
            partitions = [TopicPartition(topic, 0) for topic in topics]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            # A refused fetch comes back at once and is raised by getmany; an allowed one at
            # the end of the log waits fetch_max_wait_ms. A few rounds see either answer.
            for _ in range(_FETCH_ROUNDS):
                await consumer.getmany(timeout_ms=200)
    except ACCESS_ERRORS as exc:
        if isinstance(exc, KafkaAccessError):
            raise
        raise KafkaAccessError(
            describe_access_error(exc, settings, f"READ of topic(s) {', '.join(topics)}")
        ) from None
    finally:
        await _stop(consumer)


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """`consumer.stop()`, except that aiokafka's stop raises the CancelledError of its own
    fetch task when that was backing off from a broker that went away: not a cancellation of
    this task, so it is dropped (the check's own outcome stands). It made a service starting
    while the broker restarted exit instead of retrying the step (found by the chaos suite)."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("preflight consumer stopped uncleanly (the broker went away)")


async def _check_groups(settings: KafkaSettings, groups: list[str], timeout_s: float) -> None:
    """Fetching a group's committed offsets needs access to the group."""
    admin = AIOKafkaAdminClient(
        **client_options(settings),
        client_id=f"{settings.client_id}-preflight",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            for group in groups:
                while True:
                    try:
                        await admin.list_consumer_group_offsets(group)
                        break
                    except ACCESS_ERRORS as exc:
                        raise KafkaAccessError(
                            describe_access_error(exc, settings, f"consumer group {group!r}")
                        ) from None
                    except _COORDINATOR_MOVING:  # e.g. the offsets topic is being created
                        await asyncio.sleep(0.2)
    finally:
        await admin.close()
