"""Clock ticks carry the platform clock's signature: scoring applies a tick only when one of
the clock's public keys verifies it (docs/contract.md, "Clock ticks")."""

from __future__ import annotations

import json
import stat
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planwatch.keys_cli import keys_app
from services.scoring.app import create_app as create_scoring
from services.scoring.config import ScoringSettings
from services.scoring.records import parse_records
from services.scoring.ticks import tick_check, tick_message
from shared.contract.codec import decode_kafka_event
from shared.contract.events import ClockTick, new_tick
from shared.contract.keys import private_key_from_seed, private_key_pem, public_key_text
from shared.contract.reasons import ContractError, Reason
from shared.contract.tick_signing import check_tick_signature, clock_keys, sign_tick
from shared.domain.timebase import CST
from shared.runtime.clock_key import ClockKeyError, ClockKeySettings, load_clock_key
from shared.runtime.dead_letters import DLT_OFFSET
from tests.clock_identity import CHECK_TICK, CLOCK_KEY, CLOCK_PUBLIC_KEY
from tests.token_issuer import LocalIssuer
from tests.unit.fake_records import FakeRecord

AT = datetime(2022, 6, 30, 9, 0, tzinfo=CST)
KEYS = clock_keys([CLOCK_PUBLIC_KEY])
STRANGER = private_key_from_seed(b"\x05" * 32)


def reason_of(tick: ClockTick, *, allow_unsigned: bool = False) -> Reason | None:
    try:
        check_tick_signature(tick, KEYS, allow_unsigned=allow_unsigned)
    except ContractError as exc:
        return exc.reason
    return None


def test_the_clock_s_signature_is_the_only_one_accepted() -> None:
    tick = new_tick(at=AT)
    assert reason_of(sign_tick(tick, CLOCK_KEY)) is None
    assert reason_of(tick) is Reason.UNSIGNED
    assert reason_of(sign_tick(tick, STRANGER)) is Reason.UNKNOWN_KEY
    # The instant changed after signing: the signature no longer covers it.
    signed = sign_tick(tick, CLOCK_KEY)
    moved = new_tick(at=AT.replace(year=2032))
    forged = moved.model_copy(
        update={"envelope": signed.envelope.model_copy(update={"id": moved.envelope.id})}
    )
    assert reason_of(forged) is Reason.BAD_SIGNATURE


def test_dev_mode_lets_unsigned_ticks_through_but_still_checks_signed_ones() -> None:
    tick = new_tick(at=AT)
    assert reason_of(tick, allow_unsigned=True) is None
    assert reason_of(sign_tick(tick, STRANGER), allow_unsigned=True) is Reason.UNKNOWN_KEY


def test_a_signed_tick_survives_the_kafka_encoding() -> None:
    message = tick_message(AT, "clock", CLOCK_KEY)
    tick = decode_kafka_event(message.value, list(message.headers))
    assert isinstance(tick, ClockTick) and tick.envelope.sigkeyid in KEYS
    CHECK_TICK(tick)  # nothing raised


def test_refused_ticks_are_dead_lettered_with_their_reason() -> None:
    records = []
    for offset, key in enumerate((CLOCK_KEY, None, STRANGER)):
        m = tick_message(AT.replace(day=offset + 1), "clock", key)
        records.append(FakeRecord("clock", 0, offset, m.value, m.key, headers=m.headers))
    parsed = parse_records(
        records,
        accepted_topic="acc",
        clock_topic="clock",
        dlt_topic="dlt",
        check=lambda _: None,
        check_tick=CHECK_TICK,
        at=AT,
    )
    assert parsed.ticks == [AT.replace(day=1)]
    assert parsed.reasons == ["unsigned", "unknown_key"]
    assert [d.header(DLT_OFFSET) for d in parsed.dead] == [b"1", b"2"]


def test_scoring_refuses_to_start_without_usable_clock_keys() -> None:
    with pytest.raises(ClockKeyError, match="SCORING_CLOCK_PUBLIC_KEYS is empty"):
        tick_check([], dev_mode=False)
    with pytest.raises(ClockKeyError, match="clock public key 2"):
        tick_check([CLOCK_PUBLIC_KEY, "short"], dev_mode=False)
    tick_check([], dev_mode=True)(new_tick(at=AT))  # the demo: unsigned accepted


def test_the_private_key_file_is_read_or_refused_by_name(tmp_path: Path) -> None:
    assert load_clock_key(ClockKeySettings(key_file=None)) is None
    missing = tmp_path / "missing.pem"
    with pytest.raises(ClockKeyError, match=r"missing\.pem"):
        load_clock_key(ClockKeySettings(key_file=missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    with pytest.raises(ClockKeyError, match=r"garbage\.pem"):
        load_clock_key(ClockKeySettings(key_file=garbage))


def test_keys_clock_writes_a_private_key_and_prints_its_public_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(keys_app, ["clock", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    public = result.stdout.strip()
    [key_file] = tmp_path.glob("clock.k*.key.pem")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = load_clock_key(ClockKeySettings(key_file=key_file))
    assert private is not None and public_key_text(private) == public
    check = tick_check(json.loads(json.dumps([public])), dev_mode=False)
    check(sign_tick(new_tick(at=AT), private))


def test_scoring_starts_on_its_own_clock_key_or_the_public_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compose's scoring publishes the ticks itself: holding the clock's key, it trusts it."""
    auth = LocalIssuer().settings(tmp_path / "jwks.json")
    monkeypatch.delenv("PLANWATCH_CLOCK_KEY_FILE", raising=False)
    with pytest.raises(ClockKeyError, match="SCORING_CLOCK_PUBLIC_KEYS is empty"):
        create_scoring(ScoringSettings(auth=auth))
    with pytest.raises(ClockKeyError, match="PLANWATCH_CLOCK_KEY_FILE"):
        create_scoring(
            ScoringSettings(auth=auth, tick_interval_s=60, clock_public_keys=[CLOCK_PUBLIC_KEY])
        )
    create_scoring(ScoringSettings(auth=auth, clock_public_keys=[CLOCK_PUBLIC_KEY]))
    key_file = tmp_path / "clock.pem"
    key_file.write_bytes(private_key_pem(CLOCK_KEY))
    monkeypatch.setenv("PLANWATCH_CLOCK_KEY_FILE", str(key_file))
    create_scoring(ScoringSettings(auth=auth, tick_interval_s=60))
