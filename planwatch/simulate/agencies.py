"""Demo signing keys: every agency of a plan gets an Ed25519 key derived from the feed's seed.

Derived, not generated, so a seed names the whole demo (events and keys) and a rerun signs
exactly the same bytes. These keys are for demonstrations only: anyone who knows the seed can
sign as any agency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.contract.keys import (
    AgencyKey,
    default_key_id,
    private_key_from_seed,
    public_key_text,
)
from shared.domain.catalog import Plan

#: When the demo keys count as registered: before the plan, so every simulated event is later.
KEYS_CREATED: Final = datetime(2021, 1, 1, tzinfo=timezone(timedelta(hours=8)))


def derived_key(seed: int, label: str) -> Ed25519PrivateKey:
    """The Ed25519 key whose 32-byte secret is SHA-256 of the seed and a label."""
    secret = hashlib.sha256(f"planwatch-demo-key:v1:{seed}:{label}".encode()).digest()
    return private_key_from_seed(secret)


@dataclass(frozen=True)
class DemoKey:
    """An agency's demo key pair and the id it signs under."""

    agency: str
    key_id: str
    private_key: Ed25519PrivateKey

    def registry_entry(self) -> AgencyKey:
        return AgencyKey(
            agency=self.agency,
            key_id=self.key_id,
            public_key=public_key_text(self.private_key),
            created=KEYS_CREATED,
        )


def demo_key(seed: int, agency: str) -> DemoKey:
    key = derived_key(seed, f"agency:{agency}")
    return DemoKey(agency, default_key_id(key), key)


def demo_keys(plan: Plan, seed: int) -> dict[str, DemoKey]:
    """One registered key per agency of the plan, by agency id."""
    return {agency: demo_key(seed, agency) for agency in sorted(plan.agencies)}


def registry_lines(keys: Iterable[DemoKey]) -> str:
    """The registry entries as JSON lines (the format `planwatch keys generate` prints and
    ingest's `INGEST_KEYS_FILE` reads)."""
    return "".join(key.registry_entry().model_dump_json() + "\n" for key in keys)


def write_keys_file(path: Path, keys: Mapping[str, DemoKey]) -> Path:
    """Write the public registry entries (no private keys) for ingest to load at start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(registry_lines(keys.values()), encoding="utf-8")
    return path
