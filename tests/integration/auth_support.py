"""The integration tests' token issuer: one key pair per test run, its JWKS in a file the
services read (`PLANWATCH_AUTH_JWKS_FILE`), and tokens minted for each call."""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path
from typing import Final

from shared.runtime.auth import ALL_SCOPES, AuthSettings
from tests.clock_identity import clock_env
from tests.token_issuer import LocalIssuer

ISSUER: Final = LocalIssuer()
_FOLDER: Final = tempfile.TemporaryDirectory(prefix="planwatch-test-jwks-")
atexit.register(_FOLDER.cleanup)
JWKS_FILE: Final = ISSUER.write_jwks(Path(_FOLDER.name) / "jwks.json")


def auth_env() -> dict[str, str]:
    """The services' environment trusting the test issuer and the tests' platform clock
    (scoring checks every tick's signature; `planwatch tick` signs with its key)."""
    return {**ISSUER.env(JWKS_FILE), **clock_env(Path(_FOLDER.name))}


def auth_settings() -> AuthSettings:
    return ISSUER.settings(JWKS_FILE)


def token(*scopes: str, sub: str = "tester", agency: str | None = None) -> str:
    return ISSUER.mint(sub, scopes, agency=agency)


def headers(*scopes: str, sub: str = "tester", agency: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*scopes, sub=sub, agency=agency)}"}


def operator_headers(sub: str = "operator") -> dict[str, str]:
    """Every scope: reads, silences, key administration."""
    return headers(*ALL_SCOPES, sub=sub)
