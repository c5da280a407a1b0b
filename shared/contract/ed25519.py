"""Ed25519 verification of raw bytes, with nothing but libsodium (PyNaCl) behind it.

Kept apart from `shared.contract.signing` so that a process that only verifies (the ingest
service's verification worker) starts without pydantic or `cryptography`.
"""

from __future__ import annotations

from typing import Final

import nacl.bindings
from nacl.exceptions import BadSignatureError

SIGNATURE_BYTES: Final = 64
PUBLIC_KEY_BYTES: Final = 32


def signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification of raw bytes (32-byte key, 64-byte signature).

    Through libsodium (PyNaCl), which verifies about twice as fast as OpenSSL on the project's
    machines and is the stricter of the two (it refuses small-order keys and non-canonical
    signatures); signing and key files stay with `cryptography`.
    """
    if len(signature) != SIGNATURE_BYTES or len(public_key) != PUBLIC_KEY_BYTES:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except BadSignatureError:
        return False
    return True
