"""Plan roll-ups from the stored target documents, whichever replica wrote them: equal to the
offline `planwatch score` at every settled instant, and written only forward."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from services.scoring.clock_sync import micros
from services.scoring.documents import JSON, iso, scoped_from_doc
from services.scoring.result_doc import result_from_doc
from services.scoring.store import ScoringStore
from services.scoring.tracked import tracked_of_docs
from shared.domain.catalog import Plan
from shared.domain.method_v1 import (
    PlanState,
    assemble_plan_state,
    breakdowns_of,
    plan_state_to_json,
)

# The version of a plan's document: (clock in µs, sum of its documents' versions).
Written = tuple[int, int]


def state_text(data: JSON) -> str:
    """A plan state as stored: JSON text (floats round-trip exactly)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


async def roll_up(
    plans: Sequence[Plan], store: ScoringStore, at: datetime, written: dict[str, Written]
) -> list[PlanState]:
    """Each plan rolled up from its stored target documents, and its document written if it is
    newer than the stored one (`written` remembers what this replica wrote). A plan some of
    whose targets have no result yet (their owner has not scored them) is left as it is."""
    states: list[PlanState] = []
    for plan in plans:
        stored = await store.plan_results(plan.id)
        docs = {
            doc["target"]: doc
            for doc in stored
            if doc.get("result_full") is not None and doc.get("target") in plan.targets
        }
        subjects = [doc for doc in stored if plan.is_tracked_only(str(doc.get("target")))]
        if len(docs) != len(plan.targets):
            continue
        results = {t: result_from_doc(doc["result_full"]) for t, doc in docs.items()}
        breakdowns = {
            t: breakdowns_of(
                plan.targets[t], [scoped_from_doc(t, d) for d in doc.get("scoped") or []], at
            )
            for t, doc in docs.items()
        }
        tracked = tracked_of_docs(plan, subjects, at)
        state = assemble_plan_state(plan, results, at, breakdowns, tracked)
        states.append(state)
        versions = [*docs.values(), *subjects]
        version = (micros(at), sum(int(doc.get("version", 0)) for doc in versions))
        if written.get(plan.id) == version:
            continue
        # As JSON text: its keys are catalog ids with dots, which FerretDB refuses.
        fields = {"state": state_text(plan_state_to_json(state)), "clock": iso(at)}
        if await store.write_plan(plan.id, fields, *version):
            written[plan.id] = version
    return states
