"""A digest of the scoring state: equal digests mean equal target results, roll-ups, agency
scorecards, firing alerts (with severities), point counts, deliverables' and indicators'
winners, and clock.

The payload is canonical JSON (sorted keys, no spaces) of what the state means, not of how it is
stored: outboxes, `since` instants of alerts and history records are left out, because a replay
in one pass and a live run in many batches agree on the state but not on those.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from services.scoring.store import ScoringStore

JSON = dict[str, Any]


def digest_payload(
    meta: Mapping[str, Any] | None,
    plan_docs: Iterable[Mapping[str, Any]],
    target_docs: Iterable[Mapping[str, Any]],
) -> JSON:
    plans = {str(doc["_id"]): json.loads(doc["state"]) for doc in plan_docs if doc.get("state")}
    targets: JSON = {}
    for doc in target_docs:
        alerts = doc.get("alerts") or {}
        window = doc.get("window") or {}
        if doc.get("tracked"):  # a deliverable or an indicator: its winners are its state
            targets[str(doc["_id"])] = {"tracked": doc["tracked"]}
            continue
        if doc.get("result") is None and not alerts and not window:
            continue  # an empty document an owner claimed (stamped with its epoch): no state
        targets[str(doc["_id"])] = {
            "alerts": {rule: entry["severity"] for rule, entry in alerts.items()},
            "points": window.get("count", 0),
            "result": doc.get("result"),
        }
    return {"clock": meta.get("at") if meta else None, "plans": plans, "targets": targets}


def canonical(payload: JSON) -> bytes:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest_of(payload: JSON) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


async def read_payload(store: ScoringStore) -> JSON:
    return digest_payload(
        await store.load_meta(), await store.load_plans(), await store.load_targets()
    )


async def state_digest(store: ScoringStore) -> str:
    return digest_of(await read_payload(store))
