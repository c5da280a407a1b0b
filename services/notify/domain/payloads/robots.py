"""WeCom (企业微信) and DingTalk (钉钉) group-robot messages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

from services.notify.domain.payloads.data import NotificationData
from services.notify.domain.payloads.text import markdown_within

WECOM_MARKDOWN_LIMIT = 4096  # bytes of content, per WeCom's robot API
# DingTalk documents no exact markdown size; 20 000 bytes keeps well inside its request limit.
DINGTALK_MARKDOWN_LIMIT = 20000


def wecom_markdown(data: NotificationData, title: str = "") -> dict[str, Any]:
    """``{"msgtype": "markdown", "markdown": {"content": ...}}`` with content ≤ 4096 bytes."""
    content = markdown_within(data, WECOM_MARKDOWN_LIMIT, title)
    return {"msgtype": "markdown", "markdown": {"content": content}}


def wecom_url(key: str, base: str = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send") -> str:
    return f"{base}?key={quote_plus(key)}"


def dingtalk_markdown(data: NotificationData, title: str = "") -> dict[str, Any]:
    """``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}``."""
    return {
        "msgtype": "markdown",
        "markdown": {
            "title": data.subject(title),
            "text": markdown_within(data, DINGTALK_MARKDOWN_LIMIT, title),
        },
    }


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """``urlencode(base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")))``."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """The robot URL with ``timestamp`` (ms) and ``sign`` appended (加签 mode)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"
