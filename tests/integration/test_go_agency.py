"""Signers in other languages: a small Go agency client (tools/go-agency: Go's crypto/ed25519
and the gowebpki/jcs RFC 8785 module from the Go module proxy) signs progress events, and
ingest, in its production composition (Intake over the in-memory store), accepts them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from services.ingest.intake import Status
from shared.contract.codec import STRUCTURED_CONTENT_TYPE, encode_structured
from shared.contract.events import ProgressReported
from shared.contract.reasons import Reason
from tests.unit.ingest_support import FakeRecord, Harness, _seed, report

GO = shutil.which("go")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(GO is None, reason="no Go toolchain on this machine")


@pytest.fixture(scope="module")
def go_agency(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert GO is not None
    binary = tmp_path_factory.mktemp("go") / "go-agency"
    built = subprocess.run(
        [GO, "build", "-o", str(binary), "."],
        cwd=ROOT / "tools" / "go-agency",
        env={**os.environ, "GOFLAGS": "-mod=mod"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return binary


def unsigned(event: ProgressReported) -> dict[str, Any]:
    """The event's attributes and data as an agency system holds them before signing."""
    structured = json.loads(encode_structured(event))
    data = structured.pop("data")
    for name in ("sigkeyid", "signature"):
        structured.pop(name, None)
    return {"attributes": structured, "data": data}


def sign_in_go(binary: Path, agency: str, events: list[ProgressReported]) -> list[bytes]:
    request = {
        "seed_hex": _seed(agency, "k1").hex(),
        "sigkeyid": "k1",
        "events": [unsigned(e) for e in events],
    }
    signed = subprocess.run(
        [str(binary)],
        input=json.dumps(request, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [line.encode("utf-8") for line in signed.stdout.splitlines()]


def record(value: bytes, offset: int) -> FakeRecord:
    return FakeRecord(
        value=value,
        headers=(("content-type", STRUCTURED_CONTENT_TYPE.encode("ascii")),),
        key=b"gov.mobile-services",
        offset=offset,
    )


async def test_events_signed_by_a_go_client_are_accepted(go_agency: Path) -> None:
    events = [
        report(event_id="go-1", value=72.5),
        report(event_id="go-2", value=80.0, as_of=report().data.as_of.replace(day=30)),
        report(event_id="go-3", value=5, note="掌上办 <Q1> & “quotes” \u2028 tab\there"),
        report(event_id="go-4", value=0.1 + 0.2, note="ünïcödé 🚀"),
    ]
    lines = sign_in_go(go_agency, "qy.gov-data", events)
    assert len(lines) == len(events)
    results = await Harness().intake().kafka_batch([record(v, i) for i, v in enumerate(lines)])
    assert [(r.event_id, r.status) for r in results] == [
        (e.envelope.id, Status.ACCEPTED) for e in events
    ], results


async def test_a_go_signed_event_changed_after_signing_is_refused(go_agency: Path) -> None:
    [line] = sign_in_go(go_agency, "qy.gov-data", [report(event_id="go-t", value=72.5)])
    tampered = line.replace(b'"value":72.5', b'"value":75')
    assert tampered != line
    [result] = await Harness().intake().kafka_batch([record(tampered, 0)])
    assert result.status is Status.REJECTED and result.reason is Reason.BAD_SIGNATURE
