"""The tests' platform clock: a fixed Ed25519 key that signs ticks, its public key the one the
scoring services and the in-process doors trust."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from services.scoring.ticks import TickCheck, tick_check
from shared.contract.keys import private_key_from_seed, private_key_pem, public_key_text

CLOCK_KEY: Final = private_key_from_seed(bytes(range(32, 64)))
CLOCK_PUBLIC_KEY: Final = public_key_text(CLOCK_KEY)
CHECK_TICK: Final[TickCheck] = tick_check([CLOCK_PUBLIC_KEY], dev_mode=False)


def clock_env(folder: Path) -> dict[str, str]:
    """What a tick publisher and a scoring service need: the private key's file (written to
    `folder`) and the public keys scoring trusts."""
    key_file = folder / "clock.key.pem"
    if not key_file.exists():
        key_file.write_bytes(private_key_pem(CLOCK_KEY))
        key_file.chmod(0o600)
    return {
        "PLANWATCH_CLOCK_KEY_FILE": str(key_file),
        "SCORING_CLOCK_PUBLIC_KEYS": json.dumps([CLOCK_PUBLIC_KEY]),
    }
