"""Only the platform clock moves scoring's clock: on a running service, a tick that is unsigned
or signed by another key is dead-lettered with its reason and never applied, while the clock's
own signed tick (`planwatch tick` with PLANWATCH_CLOCK_KEY_FILE) is; and scoring outside the
demo's dev mode does not start without the clock's public keys."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.store import MongoScoringStore
from shared.contract.keys import private_key_from_seed, private_key_pem
from shared.domain.timebase import CST
from tests.integration import scoring_support
from tests.integration.auth_support import auth_env
from tests.integration.scoring_support import Topics
from tests.integration.service_process import ServiceProcess
from tests.integration.test_scoring_service import read_topic, run_cli, wait_until

pytestmark = pytest.mark.integration

scoring_service = scoring_support.scoring_service  # the fixture, for pytest to find here


async def test_only_the_clock_s_signed_ticks_move_the_clock(
    scoring_service: tuple[ServiceProcess, Topics],
    kafka_bootstrap: str,
    mongo_db: AsyncDatabase[dict[str, Any]],
    tmp_path: Path,
) -> None:
    svc, names = scoring_service
    svc.start()
    await svc.ready()
    store = MongoScoringStore(mongo_db)
    stranger = tmp_path / "stranger.key.pem"
    stranger.write_bytes(private_key_pem(private_key_from_seed(b"\x01" * 32)))
    unsigned_env = {k: v for k, v in svc.env.items() if k != "PLANWATCH_CLOCK_KEY_FILE"}
    stranger_env = {**svc.env, "PLANWATCH_CLOCK_KEY_FILE": str(stranger)}
    signed_at = datetime(2022, 3, 1, 9, 0, tzinfo=CST)

    async def tick(env: dict[str, str], day: int) -> str:
        at = datetime(2022, 3, day, 9, 0, tzinfo=CST).isoformat()
        result = await run_cli(env, "tick", "--at", at, "--topic", names.clock)
        assert result.returncode == 0, result.stderr
        return result.stderr

    assert "unsigned" in await tick(unsigned_env, 20)
    await tick(stranger_env, 25)

    async def both_refused() -> bool:
        return len(await read_topic(kafka_bootstrap, names.dlt)) == 2

    await wait_until(both_refused, timeout_s=60)
    await tick(svc.env, signed_at.day)

    async def signed_applied() -> bool:
        meta = await store.load_meta()
        # The clock is stored with the roll-up after the tick (the meta document may hold the
        # last tick already, and not yet the clock).
        at = meta.get("at") if meta is not None else None
        return at is not None and datetime.fromisoformat(at) == signed_at

    await wait_until(signed_applied, timeout_s=60)
    dead = await read_topic(kafka_bootstrap, names.dlt)
    assert sorted(dict(r.headers)["x-dlt-reason"] for _, r in dead) == [b"unknown_key", b"unsigned"]
    meta = await store.load_meta()
    assert meta is not None and datetime.fromisoformat(meta["at"]) == signed_at  # not the later


def test_scoring_without_the_clock_s_public_keys_does_not_start(free_port: int) -> None:
    env = {
        **os.environ,
        **auth_env(),
        "SCORING_CLOCK_PUBLIC_KEYS": "[]",
        "SCORING_HTTP__PORT": str(free_port),
    }
    env.pop("PLANWATCH_CLOCK_KEY_FILE")  # holding the clock's key, it would trust that
    done = subprocess.run(
        [sys.executable, "-m", "services.scoring.main"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "SCORING_CLOCK_PUBLIC_KEYS is empty" in done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "services.scoring.main"],
        env={**env, "SCORING_CLOCK_PUBLIC_KEYS": '["not-a-key"]'},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2 and "SCORING_CLOCK_PUBLIC_KEYS: clock public key 1" in bad.stderr
