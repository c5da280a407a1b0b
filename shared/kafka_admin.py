"""Idempotent Kafka topic setup through the admin API, for services and tests.

Create topics explicitly before producing: auto-created topics answer the first sends with
LEADER_NOT_AVAILABLE retries, and get the broker's default partition count.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from shared.runtime.kafka_security import (
    ACCESS_ERRORS,
    KafkaAccessError,
    client_options,
    describe_access_error,
)
from shared.runtime.settings import KafkaSettings

_LEGAL_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class TopicSpecError(ValueError):
    """A requested topic name or partition count is invalid."""


class TopicSetupError(RuntimeError):
    """Kafka refused a topic, an existing topic has another partition count, or it timed out."""


def validate_topic_spec(topics: Mapping[str, int]) -> None:
    for name, partitions in topics.items():
        if not _LEGAL_TOPIC.fullmatch(name) or name in {".", ".."}:
            raise TopicSpecError(
                f"illegal Kafka topic name {name!r}: use 1-249 of [A-Za-z0-9._-], not '.'/'..'"
            )
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise TopicSpecError(
                f"topic {name!r}: partitions must be an int >= 1, not {partitions!r}"
            )


def _partition_counts(described: list[dict[str, Any]]) -> dict[str, int]:
    """name -> partition count, for topics that exist and all have a leader."""
    counts: dict[str, int] = {}
    for topic in described:
        parts = topic.get("partitions") or []
        if topic.get("error_code") == 0 and parts and all(p.get("leader", -1) >= 0 for p in parts):
            counts[topic["topic"]] = len(parts)
    return counts


def admin_options(kafka: KafkaSettings | str) -> dict[str, Any]:
    """aiokafka options for `kafka`: the full settings (security included), or a bare bootstrap
    address for a PLAINTEXT development broker (the tests)."""
    if isinstance(kafka, str):
        return {"bootstrap_servers": kafka}
    return client_options(kafka)


async def ensure_topics(
    kafka: KafkaSettings | str,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    timeout_s: float = 30.0,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Makes each topic (name -> partitions) exist with that partition count and a leader;
    a topic it creates gets its entry of `configs` (topic configuration), if any.

    Existing topics with the same count are left alone, so calling this again is harmless.
    Raises TopicSpecError for bad input, KafkaAccessError when the principal may not describe or
    create them, TopicSetupError when Kafka refuses otherwise, an existing topic's partition count
    differs, or the topics are not ready within `timeout_s`.
    """
    validate_topic_spec(topics)
    if not topics:
        return
    options = admin_options(kafka)
    bootstrap = options["bootstrap_servers"]
    admin = AIOKafkaAdminClient(**options, request_timeout_ms=int(timeout_s * 1000))
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            existing = set(await admin.list_topics())
            wanted = configs or {}
            missing = [
                NewTopic(
                    name,
                    partitions,
                    replication_factor,
                    topic_configs=dict(wanted[name]) if name in wanted else None,
                )
                for name, partitions in topics.items()
                if name not in existing
            ]
            if missing:
                response = await admin.create_topics(missing)
                for result in response.to_object()["topic_errors"]:
                    error = for_code(result["error_code"])
                    if issubclass(error, ACCESS_ERRORS) and not isinstance(kafka, str):
                        what = f"CREATE of topic {result['topic']!r} (it does not exist)"
                        raise KafkaAccessError(describe_access_error(error(), kafka, what))
                    if result["error_code"] != 0 and error is not TopicAlreadyExistsError:
                        detail = result.get("error_message") or error.description
                        raise TopicSetupError(
                            f"cannot create topic {result['topic']!r}: {error.message}: {detail}"
                        )
            await _wait_ready(admin, topics)
    except TimeoutError as exc:
        raise TopicSetupError(
            f"topics {sorted(topics)} not ready on {bootstrap} within {timeout_s:.0f} s"
        ) from exc
    finally:
        await admin.close()


async def _wait_ready(admin: AIOKafkaAdminClient, topics: Mapping[str, int]) -> None:
    """Polls metadata until every topic has all partitions led; checks partition counts."""
    delay = 0.05
    while True:
        counts = _partition_counts(await admin.describe_topics(list(topics)))
        for name, wanted in topics.items():
            if name in counts and counts[name] != wanted:
                raise TopicSetupError(
                    f"topic {name!r} exists with {counts[name]} partition(s), wanted {wanted}"
                )
        if all(name in counts for name in topics):
            return
        await asyncio.sleep(delay)
        delay = min(0.5, delay * 2)
