"""Ed25519 signatures over a canonical byte form of an event (docs/contract.md, "Signing").

The signed bytes, UTF-8, each attribute line ending in LF (0x0A):

    planwatch-sig-v1
    <specversion>
    <id>
    <source>
    <type>
    <subject, or an empty line>
    <time, exactly as sent>
    <datacontenttype>
    <sigkeyid>
    <RFC 8785 canonical JSON of the data object, no trailing newline>

The signature is the 64-byte Ed25519 signature of those bytes, sent as the `signature`
extension attribute in unpadded base64url; `sigkeyid` names the agency key.
"""

from __future__ import annotations

from typing import Final, TypeVar, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from shared.contract import jcs
from shared.contract.codec import data_bytes
from shared.contract.ed25519 import signature_valid
from shared.contract.events import AgencyEvent, Envelope
from shared.contract.keys import b64url_decode, b64url_encode
from shared.contract.reasons import ContractError, Reason

SIGNATURE_VERSION: Final = "planwatch-sig-v1"

E = TypeVar("E", bound=AgencyEvent)


def canonical_bytes(envelope: Envelope, data: bytes, key_id: str | None = None) -> bytes:
    """The bytes an agency signs; `data` is the data JSON (any formatting), `key_id` defaults
    to the envelope's `sigkeyid`."""
    head = _signed_head(envelope, key_id)
    return head + jcs.canonicalize(jcs.loads(data))


def signed_bytes(envelope: Envelope, canonical_data: bytes, key_id: str | None = None) -> bytes:
    """`canonical_bytes` for data already in its RFC 8785 form (e.g. from
    `shared.contract.parsing.parse_event_canonical`): not parsed again."""
    return _signed_head(envelope, key_id) + canonical_data


def _signed_head(envelope: Envelope, key_id: str | None) -> bytes:
    kid = key_id if key_id is not None else envelope.sigkeyid
    if kid is None:
        raise ContractError(Reason.UNSIGNED, "no sigkeyid attribute")
    lines = (
        SIGNATURE_VERSION,
        envelope.specversion,
        envelope.id,
        envelope.source,
        envelope.type.value,
        envelope.subject or "",
        envelope.time,
        envelope.datacontenttype,
        kid,
    )
    return "".join(line + "\n" for line in lines).encode("utf-8")


def sign(event: E, private_key: Ed25519PrivateKey, key_id: str) -> E:
    """The event with `sigkeyid` and `signature` set (a previous signature is replaced)."""
    fields = event.envelope.model_dump()
    fields.update(sigkeyid=key_id, signature=None)
    try:
        envelope = Envelope.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(f"key id {key_id!r} is not usable: {exc}") from None
    signature = private_key.sign(canonical_bytes(envelope, data_bytes(event)))
    signed = envelope.model_copy(update={"signature": b64url_encode(signature)})
    return cast(E, event.model_copy(update={"envelope": signed}))


def require_key_id(envelope: Envelope) -> str:
    """The key id to look up in the registry; `unsigned` when the event carries no signature."""
    if envelope.signature is None or envelope.sigkeyid is None:
        missing = [n for n in ("sigkeyid", "signature") if getattr(envelope, n) is None]
        raise ContractError(Reason.UNSIGNED, f"missing attribute(s): {', '.join(missing)}")
    return envelope.sigkeyid


def verify(envelope: Envelope, data: bytes, public_key: Ed25519PublicKey) -> bool:
    """Whether the signature is valid for these attributes and data; `unsigned` if there is none."""
    require_key_id(envelope)
    assert envelope.signature is not None
    try:
        signature = b64url_decode(envelope.signature)
    except ValueError:
        return False
    return signature_valid(
        public_key.public_bytes_raw(), signature, canonical_bytes(envelope, data)
    )


def check_signature(envelope: Envelope, data: bytes, public_key: Ed25519PublicKey) -> None:
    """`verify`, raising `bad_signature` instead of returning False."""
    if not verify(envelope, data, public_key):
        raise ContractError(
            Reason.BAD_SIGNATURE,
            f"signature does not verify with key {envelope.sigkeyid!r} of {envelope.source}",
        )
