"""Resolving the routing file's secret references (`env:NAME`, `file:/path`): checked once at
start (every reference must resolve, or notify does not start) and read again at send time (a
mounted secret may rotate)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from services.notify.domain.config import ConfigIssue, RoutingConfig
from services.notify.domain.receivers import (
    DingtalkConfig,
    Integration,
    SecretRef,
    WebhookConfig,
    WecomConfig,
)


class SecretUnavailableError(LookupError):
    """A referenced secret is not set (missing variable, unreadable or empty file)."""


def resolve_secret(ref: SecretRef, environ: Mapping[str, str] | None = None) -> str:
    """The secret's value, stripped of surrounding whitespace; never logged."""
    env = os.environ if environ is None else environ
    if ref.kind == "env":
        value = env.get(ref.target, "")
        if not value.strip():
            raise SecretUnavailableError(f"secret {ref.ref}: the environment variable is not set")
        return value.strip()
    try:
        value = Path(ref.target).read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretUnavailableError(f"secret {ref.ref}: {exc.strerror or exc}") from None
    if not value.strip():
        raise SecretUnavailableError(f"secret {ref.ref}: the file is empty")
    return value.strip()


def _references(integration: Integration) -> Iterator[tuple[str, SecretRef]]:
    config = integration.config
    if isinstance(config, WebhookConfig | DingtalkConfig):
        named = {"url_ref": config.url_ref, "secret": config.secret}
    elif isinstance(config, WecomConfig):
        named = {"url_ref": config.url_ref, "key_ref": config.key_ref}
    else:
        named = {}
    for name, ref in named.items():
        if ref is not None:
            yield name, ref


def secret_references(config: RoutingConfig) -> Iterator[tuple[Integration, str, SecretRef]]:
    """Every secret reference of every receiver: its integration, its field and the ref."""
    for receiver in config.receivers.values():
        for integration in receiver.integrations:
            for name, ref in _references(integration):
                yield integration, name, ref


def unresolved_secrets(
    config: RoutingConfig, environ: Mapping[str, str] | None = None
) -> list[ConfigIssue]:
    """Every secret reference of every receiver that does not resolve here and now, with the
    line of its integration: refused at start rather than dead-lettered at the first send."""
    issues: list[ConfigIssue] = []
    for integration, name, ref in secret_references(config):
        try:
            resolve_secret(ref, environ)
        except SecretUnavailableError as exc:
            issues.append(ConfigIssue(integration.line, f"{integration.key}: {name}: {exc}"))
    return issues
