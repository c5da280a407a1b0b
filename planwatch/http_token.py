"""The bearer token the command-line tools send to the services' HTTP APIs.

Read from a file named by `PLANWATCH_TOKEN_FILE` (what an OIDC client or `kubectl`-style
helper writes), else from `PLANWATCH_TOKEN`; never from a command-line argument (visible to
every user in the process list) and never printed. Without either, no `Authorization` header is
sent: enough for services in the demo's dev mode (`PLANWATCH_AUTH_MODE=dev`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

TOKEN_FILE_ENV: Final = "PLANWATCH_TOKEN_FILE"
TOKEN_ENV: Final = "PLANWATCH_TOKEN"


class TokenError(ValueError):
    """The token file named cannot be read (the message names the file, never the token)."""


def bearer_token(environ: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    path = env.get(TOKEN_FILE_ENV, "").strip()
    if path:
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise TokenError(f"{TOKEN_FILE_ENV}={path}: cannot read: {exc.strerror}") from None
        if not token:
            raise TokenError(f"{TOKEN_FILE_ENV}={path}: the file is empty")
        return token
    token = env.get(TOKEN_ENV, "").strip()
    return token or None


def auth_headers(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    token = bearer_token(environ)
    return {} if token is None else {"Authorization": f"Bearer {token}"}
