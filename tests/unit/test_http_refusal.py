"""The command-line tools name a refusal whatever shape the service answers it in."""

from __future__ import annotations

import httpx
import pytest

from planwatch.http_refusal import refusal_message


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(
                401, json={"type": "about:blank", "title": "Unauthorized", "detail": "no token"}
            ),
            "notify refused (401): no token",
        ),
        (httpx.Response(403, json={"title": "Forbidden"}), "notify refused (403): Forbidden"),
        (
            httpx.Response(401, json="missing bearer token"),
            "notify refused (401): missing bearer token",
        ),
        (
            httpx.Response(502, text="<html>bad gateway</html>"),
            "notify refused (502): <html>bad gateway</html>",
        ),
        (httpx.Response(500, json=[1, 2]), "notify refused (500): [1,2]"),
    ],
)
def test_refusal_message_reads_problems_alertmanager_strings_and_text(
    response: httpx.Response, expected: str
) -> None:
    assert refusal_message("notify", response) == expected
