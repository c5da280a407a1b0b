"""The signature verifier: the worker process answers exactly as `signature_valid` does, and
intake judges a batch the same with the worker as in-process, also when the worker dies."""

from __future__ import annotations

import asyncio
import dataclasses

from services.ingest.intake import Status
from services.ingest.verifier import InlineVerifier, ProcessVerifier, SignedItem, verify_here
from services.ingest.verify_worker import answer, encode_request
from shared.contract.signing import canonical_bytes
from tests.unit.ingest_support import Harness, kafka_record, private_key, report


def _items() -> list[SignedItem]:
    key = private_key("qy.gov-data")
    public = key.public_key().public_bytes_raw()
    message = canonical_bytes(report().envelope, b'{"a":1}', key_id="k1")
    signature = key.sign(message)
    return [
        (public, signature, message),
        (public, signature, message + b" "),  # tampered message
        (public, signature[:-1], message),  # short signature
        (public[:-1], signature, message),  # short key
        (public, b"", message),
        (public, signature, b""),
    ]


def test_the_worker_protocol_answers_as_signature_valid() -> None:
    items = _items()
    request = encode_request(items)
    assert answer(len(items), request[8:]) == bytes(verify_here(items))
    assert verify_here(items) == [True, False, False, False, False, False]


async def test_the_worker_process_answers_as_signature_valid() -> None:
    verifier = ProcessVerifier()
    await verifier.start()
    try:
        assert verifier.running
        items = _items()
        pending = [verifier.submit(items), verifier.submit([]), verifier.submit(items[:1])]
        assert [await p for p in pending] == [verify_here(items), [], [True]]
    finally:
        await verifier.stop()
    assert not verifier.running


async def test_a_dead_worker_is_replaced_and_meanwhile_verification_is_in_process() -> None:
    verifier = ProcessVerifier(restart_after_s=0)
    await verifier.start()
    try:
        process = verifier._process
        assert process is not None
        process.kill()
        await process.wait()
        items = _items()
        assert await verifier.submit(items) == verify_here(items)  # written before EOF is seen
        assert await verifier.submit(items) == verify_here(items)
        for _ in range(100):  # the restart runs in the background
            if verifier.running:
                break
            assert await InlineVerifier().submit(items[:1]) == [True]
            await asyncio.sleep(0.05)
        assert verifier.running
        assert await verifier.submit(items) == verify_here(items)
    finally:
        await verifier.stop()


async def test_intake_judges_the_same_with_the_worker() -> None:
    events = [report(event_id=f"ev-{i}", value=float(i % 100)) for i in range(120)]
    records = [kafka_record(e, offset=i) for i, e in enumerate(events)]
    bad = dataclasses.replace(records[7], value=records[7].value.replace(b"7", b"8"))  # type: ignore[union-attr]
    records[7] = bad
    inline = Harness()
    expected = await inline.intake().kafka_batch(records)
    verifier = ProcessVerifier()
    await verifier.start()
    try:
        worked = Harness()
        intake = dataclasses.replace(worked.intake(), verifier=verifier)
        assert await intake.kafka_batch(records) == expected
    finally:
        await verifier.stop()
    assert expected[7].status is Status.REJECTED
    assert sum(r.status is Status.ACCEPTED for r in expected) == 119
    assert worked.publisher.records == inline.publisher.records
