"""Resolving the routing file's secret references (`env:NAME`, `file:/path`) at send time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from services.notify.domain.receivers import SecretRef


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
