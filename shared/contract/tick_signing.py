"""Clock ticks signed by the platform clock's own key (docs/contract.md, "Clock ticks").

A tick moves every scoring replica's clock, so only the platform may publish one: the tick
publisher (`planwatch tick`, scoring's built-in scheduler) signs it as agencies sign their
reports (`shared.contract.signing`), with the clock's Ed25519 key, and scoring checks it
against the clock's public keys (more than one while a key is rotated). The key id is the
public key's `default_key_id`, so the public keys alone name them. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.contract.codec import data_bytes
from shared.contract.events import ClockTick
from shared.contract.keys import default_key_id, public_key_from_text
from shared.contract.reasons import ContractError, Reason
from shared.contract.signing import check_signature, require_key_id, sign

ClockKeys = Mapping[str, Ed25519PublicKey]


def clock_keys(public_keys: Iterable[str]) -> dict[str, Ed25519PublicKey]:
    """The clock's public keys (unpadded base64url, as `planwatch keys clock` prints them) by
    key id; ValueError naming the first that is not an Ed25519 public key."""
    keys: dict[str, Ed25519PublicKey] = {}
    for number, text in enumerate(public_keys, start=1):
        try:
            key = public_key_from_text(text.strip())
        except ValueError as exc:
            raise ValueError(f"clock public key {number}: {exc}") from None
        keys[default_key_id(key)] = key
    return keys


def sign_tick(tick: ClockTick, private_key: Ed25519PrivateKey) -> ClockTick:
    return sign(tick, private_key, default_key_id(private_key))


def check_tick_signature(tick: ClockTick, keys: ClockKeys, *, allow_unsigned: bool) -> None:
    """Nothing when the tick is the platform clock's; ContractError `unsigned`, `unknown_key`
    or `bad_signature` otherwise. `allow_unsigned` (the local demo's dev mode only) lets an
    unsigned tick through; a signed one is checked all the same."""
    if tick.envelope.signature is None and tick.envelope.sigkeyid is None and allow_unsigned:
        return
    key_id = require_key_id(tick.envelope)
    key = keys.get(key_id)
    if key is None:
        raise ContractError(Reason.UNKNOWN_KEY, f"{key_id!r} is not a clock key")
    check_signature(tick.envelope, data_bytes(tick), key)
