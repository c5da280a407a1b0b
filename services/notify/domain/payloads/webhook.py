"""Alertmanager's webhook JSON (``version: "4"``) and Standard Webhooks signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from services.notify.domain.alert import Alert
from services.notify.domain.payloads.data import notification_data, quote_meta
from services.notify.domain.timefmt import go_rfc3339, require_aware

SECRET_PREFIX = "whsec_"


def webhook_message(
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[Alert],
    *,
    now: datetime,
    external_url: str = "",
    max_alerts: int = 0,
) -> dict[str, Any]:
    """The webhook body as a dict in Alertmanager's field order. ``max_alerts`` > 0 keeps
    the first that many alerts and counts the rest in ``truncatedAlerts``; status and
    common labels are computed on the kept alerts, as Alertmanager does."""
    now = require_aware(now)
    kept = list(alerts)
    truncated = 0
    if max_alerts and len(kept) > max_alerts:
        kept, truncated = kept[:max_alerts], len(kept) - max_alerts
    data = notification_data(receiver, group_labels, kept, now, external_url)
    return {
        "receiver": quote_meta(receiver),
        "status": data.status.value,
        "alerts": [
            {
                "status": a.status_at(now).value,
                "labels": dict(sorted(a.labels.items())),
                "annotations": dict(sorted(a.annotations.items())),
                "startsAt": go_rfc3339(a.starts_at),
                "endsAt": go_rfc3339(a.ends_at if a.resolved_at(now) else None),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in kept
        ],
        "groupLabels": dict(sorted(data.group_labels.items())),
        "commonLabels": dict(sorted(data.common_labels.items())),
        "commonAnnotations": dict(sorted(data.common_annotations.items())),
        "externalURL": external_url,
        "version": "4",
        "groupKey": group_key,
        "truncatedAlerts": truncated,
    }


def encode_like_go(message: Mapping[str, Any]) -> bytes:
    """JSON as Go's ``json.Encoder`` writes it: compact, UTF-8, ``<>&`` and U+2028/9
    escaped, one trailing newline."""
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return (text + "\n").encode()


def webhook_body(
    receiver: str,
    group_key: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[Alert],
    *,
    now: datetime,
    external_url: str = "",
    max_alerts: int = 0,
) -> bytes:
    return encode_like_go(
        webhook_message(
            receiver,
            group_key,
            group_labels,
            alerts,
            now=now,
            external_url=external_url,
            max_alerts=max_alerts,
        )
    )


class SigningError(ValueError):
    """A Standard Webhooks secret that is not ``whsec_<base64>`` of 24 to 64 bytes."""


def secret_bytes(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise SigningError("a Standard Webhooks secret starts with 'whsec_'")
    try:
        raw = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError as exc:
        raise SigningError("the secret after 'whsec_' is not base64") from exc
    if not 24 <= len(raw) <= 64:
        raise SigningError(f"the secret has {len(raw)} bytes; 24 to 64 are required")
    return raw


def standard_webhooks_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_webhooks_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers; several secrets (rotation) give space-separated signatures."""
    if not secrets:
        raise SigningError("at least one secret is required to sign")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_webhooks_signature(s, msg_id, timestamp, body) for s in secrets
        ),
    }
