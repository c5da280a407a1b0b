"""Ed25519 signing over the documented canonical bytes: a fixed vector, tampering, both modes."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.contract.codec import (
    data_bytes,
    decode_kafka,
    decode_structured,
    encode_kafka_binary,
    encode_structured,
)
from shared.contract.events import Envelope, EventType
from shared.contract.keys import b64url_decode, public_key_text
from shared.contract.parsing import RawEvent
from shared.contract.reasons import ContractError, Reason
from shared.contract.signing import (
    canonical_bytes,
    check_signature,
    require_key_id,
    sign,
    verify,
)
from tests.unit.contract_fixtures import (
    KEY_ID,
    PUBLIC_KEY_HEX,
    other_key,
    private_key,
    report,
    retraction,
)

# The worked example of docs/contract.md, written out by hand from the documented algorithm.
EXPECTED_CANONICAL = (
    "planwatch-sig-v1\n"
    "1.0\n"
    "3f1c2a9e-0001\n"
    "urn:planwatch:agency:qy.gov-data\n"
    "org.planwatch.progress.reported.v1\n"
    "gov.mobile-services\n"
    "2022-04-06T09:30:00+08:00\n"
    "application/json\n"
    "qy.gov-data.2022a\n"
    '{"as_of":"2022-03-31","note":"掌上办 Q1","plan":"qingyuan-digital-economy-2021",'
    '"target":"gov.mobile-services","value":72.5}'
).encode()
# Computed once with the RFC 8032 TEST 1 seed; Ed25519 signatures are deterministic.
EXPECTED_SIGNATURE = (
    "SAu0MqQ5K2otbctipcuEkYAv2mtsbzGFYp7qbHn8GeqXybLiAbzy28TEBNHoRUNKYLOIckeog0-jVri4gNTtDA"
)


def _public() -> Ed25519PublicKey:
    return private_key().public_key()


def test_fixed_seed_gives_the_rfc8032_public_key() -> None:
    assert b64url_decode(public_key_text(private_key())).hex() == PUBLIC_KEY_HEX


def test_known_vector() -> None:
    signed = sign(report(), private_key(), KEY_ID)
    assert canonical_bytes(signed.envelope, data_bytes(signed)) == EXPECTED_CANONICAL
    assert signed.envelope.sigkeyid == KEY_ID
    assert signed.envelope.signature == EXPECTED_SIGNATURE
    # The signature is a plain Ed25519 signature of the documented bytes.
    _public().verify(b64url_decode(EXPECTED_SIGNATURE), EXPECTED_CANONICAL)
    assert verify(signed.envelope, data_bytes(signed), _public())


def test_data_formatting_does_not_matter_but_content_does() -> None:
    signed = sign(report(), private_key(), KEY_ID)
    pretty = (
        b'{ "value": 72.50, "target": "gov.mobile-services", "plan": '
        b'"qingyuan-digital-economy-2021", "note": "\\u638c\\u4e0a\\u529e Q1",\n'
        b' "as_of": "2022-03-31" }'
    )
    assert verify(signed.envelope, pretty, _public())
    assert not verify(signed.envelope, pretty.replace(b"72.50", b"72.51"), _public())


def test_binary_and_structured_modes_verify_identically() -> None:
    signed = sign(report(), private_key(), KEY_ID)
    _, value, headers = encode_kafka_binary(signed)
    binary = decode_kafka(value, headers)
    structured = decode_structured(encode_structured(signed))
    assert binary.envelope == structured.envelope
    assert canonical_bytes(binary.envelope, binary.data) == canonical_bytes(
        structured.envelope, structured.data
    )
    check_signature(binary.envelope, binary.data, _public())
    check_signature(structured.envelope, structured.data, _public())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "3f1c2a9e-0009"),
        ("source", "urn:planwatch:agency:qy.miit"),
        ("subject", "gov.online-services"),
        ("time", "2022-04-06T09:30:01+08:00"),
        ("time", "2022-04-06T01:30:00Z"),  # the same instant, written differently
        ("sigkeyid", "qy.gov-data.2022b"),
    ],
)
def test_any_attribute_change_breaks_the_signature(field: str, value: str) -> None:
    signed = sign(report(), private_key(), KEY_ID)
    tampered = signed.envelope.model_copy(update={field: value})
    assert not verify(tampered, data_bytes(signed), _public())


def test_type_change_breaks_the_signature() -> None:
    signed = sign(retraction(), private_key(), KEY_ID)
    fields = signed.envelope.model_dump()
    fields["type"] = EventType.PROGRESS_REPORTED
    assert not verify(Envelope.model_validate(fields), data_bytes(signed), _public())


@pytest.mark.parametrize(
    "data",
    [
        b'{"as_of":"2022-03-31","note":"\xe6\x8e\x8c\xe4\xb8\x8a\xe5\x8a\x9e Q1",'
        b'"plan":"qingyuan-digital-economy-2021","target":"gov.mobile-services","value":72.6}',
        b'{"as_of":"2022-03-30","note":"\xe6\x8e\x8c\xe4\xb8\x8a\xe5\x8a\x9e Q1",'
        b'"plan":"qingyuan-digital-economy-2021","target":"gov.mobile-services","value":72.5}',
        b'{"as_of":"2022-03-31","plan":"qingyuan-digital-economy-2021",'
        b'"target":"gov.mobile-services","value":72.5}',
    ],
)
def test_any_data_change_breaks_the_signature(data: bytes) -> None:
    signed = sign(report(), private_key(), KEY_ID)
    assert not verify(signed.envelope, data, _public())
    with pytest.raises(ContractError) as caught:
        check_signature(signed.envelope, data, _public())
    assert caught.value.reason is Reason.BAD_SIGNATURE


def test_wrong_key_and_garbled_signature() -> None:
    signed = sign(report(), private_key(), KEY_ID)
    data = data_bytes(signed)
    assert not verify(signed.envelope, data, other_key().public_key())
    for garbled in ("AAAA", "not base64!", EXPECTED_SIGNATURE + "=="):
        envelope = signed.envelope.model_copy(update={"signature": garbled})
        assert not verify(envelope, data, _public())


def test_unsigned() -> None:
    event = report()
    with pytest.raises(ContractError) as caught:
        verify(event.envelope, data_bytes(event), _public())
    assert caught.value.reason is Reason.UNSIGNED
    assert "sigkeyid" in caught.value.message
    half = event.envelope.model_copy(update={"sigkeyid": KEY_ID})
    with pytest.raises(ContractError) as caught:
        require_key_id(half)
    assert caught.value.message == "missing attribute(s): signature"


def test_resigning_replaces_the_signature() -> None:
    once = sign(report(), other_key(), "old")
    twice = sign(once, private_key(), KEY_ID)
    assert twice.envelope.signature == EXPECTED_SIGNATURE
    assert twice.data == once.data


def test_raw_event_round_trip_keeps_exact_bytes() -> None:
    signed = sign(report(), private_key(), KEY_ID)
    raw = RawEvent(
        signed.envelope,
        b'{"value":72.5,"target":"gov.mobile-services",'
        b'"plan":"qingyuan-digital-economy-2021","note":"\\u638c\\u4e0a\\u529e Q1",'
        b'"as_of":"2022-03-31"}',
    )
    _, value, headers = encode_kafka_binary(raw)
    assert value == raw.data
    assert verify(decode_kafka(value, headers).envelope, value, _public())


def test_bad_key_id_is_refused_when_signing() -> None:
    with pytest.raises(ValueError, match="key id"):
        sign(report(), private_key(), "has space")
