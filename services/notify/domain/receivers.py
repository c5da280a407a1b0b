"""Receiver configurations: where a notification goes and how it is shaped.

Secrets never appear in the routing file: a ``SecretRef`` names where the service reads the
value (``env:NAME`` for an environment variable, ``file:/path`` for a mounted secret).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

_SECRET_REF = re.compile(r"^(?:env:[A-Za-z_][A-Za-z0-9_]*|file:/\S+)$")


class SecretRefError(ValueError):
    """A secret reference that is not ``env:NAME`` or ``file:/path``."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """Where to read a secret; the value itself is resolved by the service at send time."""

    ref: str

    def __post_init__(self) -> None:
        if not _SECRET_REF.match(self.ref):
            hint = " (it looks like the secret itself)" if self.ref.startswith("whsec_") else ""
            raise SecretRefError(
                f"bad secret reference {self.ref!r}{hint}: expected env:NAME or file:/path"
            )

    @property
    def kind(self) -> str:
        return self.ref.split(":", 1)[0]

    @property
    def target(self) -> str:
        """The environment variable name or the file path."""
        return self.ref.split(":", 1)[1]


class IntegrationType(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    KAFKA = "kafka"
    WECOM = "wecom"
    DINGTALK = "dingtalk"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Alertmanager webhook v4 JSON, signed with Standard Webhooks when ``secret`` is set."""

    url: str | None = None
    url_ref: SecretRef | None = None
    secret: SecretRef | None = None
    allow_private: bool = False
    send_resolved: bool = True
    max_alerts: int = 0  # 0: no limit
    type: IntegrationType = IntegrationType.WEBHOOK


@dataclass(frozen=True, slots=True)
class EmailConfig:
    to: tuple[str, ...]
    sender: str  # ``from`` in the file
    send_resolved: bool = False
    html: bool = True
    type: IntegrationType = IntegrationType.EMAIL


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    topic: str
    send_resolved: bool = True
    type: IntegrationType = IntegrationType.KAFKA


@dataclass(frozen=True, slots=True)
class WecomConfig:
    """WeCom (企业微信) group robot; the robot key is a secret, so only references."""

    url_ref: SecretRef | None = None
    key_ref: SecretRef | None = None
    allow_private: bool = False
    send_resolved: bool = True
    type: IntegrationType = IntegrationType.WECOM


@dataclass(frozen=True, slots=True)
class DingtalkConfig:
    """DingTalk (钉钉) custom robot; ``secret`` enables its signed-URL mode (加签)."""

    url: str | None = None
    url_ref: SecretRef | None = None
    secret: SecretRef | None = None
    allow_private: bool = False
    send_resolved: bool = True
    type: IntegrationType = IntegrationType.DINGTALK


IntegrationConfig = WebhookConfig | EmailConfig | KafkaConfig | WecomConfig | DingtalkConfig


@dataclass(frozen=True, slots=True)
class Integration:
    """One configured destination of a receiver; ``key`` identifies its notification log."""

    receiver: str
    index: int  # position among the receiver's configs of this type
    config: IntegrationConfig
    line: int = field(default=0, compare=False)  # where it is in the routing file

    @property
    def key(self) -> str:
        return f"{self.receiver}/{self.config.type.value}/{self.index}"

    @property
    def send_resolved(self) -> bool:
        return self.config.send_resolved


@dataclass(frozen=True, slots=True)
class Receiver:
    name: str
    integrations: tuple[Integration, ...] = field(default_factory=tuple)
