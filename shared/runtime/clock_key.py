"""The platform clock's private key, which signs clock ticks (`shared.contract.tick_signing`):
`PLANWATCH_CLOCK_KEY_FILE`, a PEM file (PKCS#8 Ed25519, as `planwatch keys clock` writes it)
mounted from a Secret into whatever publishes ticks (the tick CronJob, scoring's built-in
scheduler, a feed of simulated ticks). Never in the repository, never logged."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.contract.keys import private_key_from_pem


class ClockKeyError(ValueError):
    """The clock's key is missing where it is needed, unreadable, or not an Ed25519 key."""


class ClockKeySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PLANWATCH_CLOCK_", extra="ignore")

    key_file: Path | None = None


def load_clock_key(settings: ClockKeySettings | None = None) -> Ed25519PrivateKey | None:
    """The clock's private key, or None when no file is named."""
    path = (settings or ClockKeySettings()).key_file
    if path is None:
        return None
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise ClockKeyError(f"PLANWATCH_CLOCK_KEY_FILE {path}: {exc.strerror or exc}") from None
    try:
        return private_key_from_pem(pem)
    except ValueError as exc:
        raise ClockKeyError(f"PLANWATCH_CLOCK_KEY_FILE {path}: {exc}") from None
