"""Agency signing keys: Ed25519 pairs, their text forms, and the registry entry model.

Public keys travel as base64url (unpadded) of the raw 32 bytes; private keys stay with the
agency as PKCS#8 PEM files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, StringConstraints

from shared.contract.events import ID_PATTERN, KEY_ID_PATTERN

PUBLIC_KEY_BYTES: Final = 32


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url; ValueError on padding or characters outside the alphabet."""
    if "=" in text or not text.isascii():
        raise ValueError("base64url must be unpadded ASCII")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64url: {exc}") from None


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The key of a 32-byte seed (RFC 8032 private key): for test vectors and fixtures."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_text(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return b64url_encode(raw)


def public_key_from_text(text: str) -> Ed25519PublicKey:
    raw = b64url_decode(text)
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"an Ed25519 public key has 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"not an Ed25519 private key but {type(key).__name__}")
    return key


def default_key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """A stable id from the public key: `k` + 16 hex digits of its SHA-256."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "k" + hashlib.sha256(raw).hexdigest()[:16]


class KeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


def _check_public_key(text: str) -> str:
    public_key_from_text(text)
    return text


class AgencyKey(BaseModel):
    """One entry of the key registry: which agency signs with which public key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    key_id: Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)]
    public_key: Annotated[str, AfterValidator(_check_public_key)]
    status: KeyStatus = KeyStatus.ACTIVE
    created: AwareDatetime
    revoked: AwareDatetime | None = None

    def verifier(self) -> Ed25519PublicKey:
        return public_key_from_text(self.public_key)

    def revoke(self, at: datetime) -> AgencyKey:
        if at.tzinfo is None:
            raise ValueError("revocation time must be timezone-aware")
        return self.model_copy(update={"status": KeyStatus.REVOKED, "revoked": at})

    @property
    def is_active(self) -> bool:
        return self.status is KeyStatus.ACTIVE
