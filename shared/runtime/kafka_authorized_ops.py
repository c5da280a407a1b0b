"""Which operations Kafka authorises this principal for on given topics, asked without doing
them: Metadata v8 (KIP-430) returns each topic's authorised operations as a bit field. aiokafka
speaks Metadata up to v5 only, so this one request is declared here, in aiokafka's own terms.
"""

from __future__ import annotations

from typing import Any

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int16, Int32, Schema, String

_WRITE = 4  # AclOperation.WRITE: the bit index in `topic_authorized_operations`
_TOPIC_AUTHORIZATION_FAILED = 29
_UNKNOWN_TOPIC_OR_PARTITION = 3


class _MetadataResponseV8(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 3
    API_VERSION = 8
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "brokers",
            Array(
                ("node_id", Int32),
                ("host", String("utf-8")),
                ("port", Int32),
                ("rack", String("utf-8")),
            ),
        ),
        ("cluster_id", String("utf-8")),
        ("controller_id", Int32),
        (
            "topics",
            Array(
                ("error_code", Int16),
                ("topic", String("utf-8")),
                ("is_internal", Boolean),
                (
                    "partitions",
                    Array(
                        ("error_code", Int16),
                        ("partition", Int32),
                        ("leader", Int32),
                        ("leader_epoch", Int32),
                        ("replicas", Array(Int32)),
                        ("isr", Array(Int32)),
                        ("offline_replicas", Array(Int32)),
                    ),
                ),
                ("topic_authorized_operations", Int32),
            ),
        ),
        ("cluster_authorized_operations", Int32),
    )


class _MetadataRequestV8(RequestStruct):  # type: ignore[misc]
    API_KEY = 3
    API_VERSION = 8
    RESPONSE_TYPE = _MetadataResponseV8
    SCHEMA = Schema(
        ("topics", Array(String("utf-8"))),
        ("allow_auto_topic_creation", Boolean),
        ("include_cluster_authorized_operations", Boolean),
        ("include_topic_authorized_operations", Boolean),
    )


class TopicOperationsRequest(Request[_MetadataRequestV8]):  # type: ignore[misc]
    API_KEY = 3

    def __init__(self, topics: list[str]) -> None:
        self._topics = topics

    def build(self, request_struct_class: type[_MetadataRequestV8]) -> _MetadataRequestV8:
        return request_struct_class(self._topics, False, False, True)


def topic_write_refusals(topics: list[tuple[Any, ...]]) -> dict[str, str]:
    """From a Metadata v8 response's topics: each topic this principal may not write, with why."""
    refused: dict[str, str] = {}
    for error_code, topic, _internal, _partitions, operations in topics:
        if error_code == _TOPIC_AUTHORIZATION_FAILED:
            refused[topic] = "not visible to it (no DESCRIBE)"
        elif error_code == _UNKNOWN_TOPIC_OR_PARTITION:
            refused[topic] = "does not exist"
        elif error_code == 0 and not (operations >= 0 and operations & (1 << _WRITE)):
            refused[topic] = "WRITE not granted"
    return refused
