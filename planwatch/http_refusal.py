"""What a service's refusal says, for the command-line tools' error line: the `detail` of an
RFC 9457 problem (the services' own routes), the bare JSON string Alertmanager's API v2 paths
answer (kept for amtool), or the body's text."""

from __future__ import annotations

import httpx


def refusal_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or response.text)
    if isinstance(body, str):
        return body
    return response.text


def refusal_message(service: str, response: httpx.Response) -> str:
    return f"{service} refused ({response.status_code}): {refusal_detail(response)}"
