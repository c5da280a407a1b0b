"""`replay` rebuilds the problems beside the scores from ingest's stored events (FerretDB): the
same problem documents as the live desk folded, and the overdue ones escalated at the final
clock; a destination that already holds problems is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.scoring.engine import publish_nothing
from services.scoring.problem_alerts import PROBLEM_OVERDUE
from services.scoring.problem_desk import ProblemDesk
from services.scoring.problem_memory_store import InMemoryProblemStore
from services.scoring.problem_store import MongoProblemStore, ProblemQuery
from services.scoring.replay import ReplayError, replay
from services.scoring.store import MongoScoringStore
from shared import topics
from shared.accepted_problem import AcceptedProblemEvent
from shared.contract.alert_event import decode_alert_event
from shared.domain.problems import ProblemAction
from tests.unit.test_problem_desk import ACK, AFTER, CATALOG, COMMENT, RAISE, Sent, event

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
# A second problem, raised and left open past the escalation age.
OPEN = event("o1", ProblemAction.RAISED, 0, problem_id="p-2", subject="infra.rural-fiber-200m")
EVENTS = [RAISE, ACK, COMMENT, OPEN]


def stored(problem: AcceptedProblemEvent) -> Doc:
    """As ingest stores an accepted event (services/ingest/store.py)."""
    return {
        "_id": f"{problem.agency}|{problem.event_id}",
        **problem.model_dump(mode="json"),
        "signed_event": "{}",
    }


def comparable(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k != "escalated_at"}


async def test_replay_rebuilds_the_problems_and_escalates_at_the_final_clock(
    mongo_db: AsyncDatabase[Doc],
) -> None:
    await mongo_db["reports"].insert_many([stored(e) for e in EVENTS])
    at = RAISE.reported_at + 2 * AFTER
    sent = Sent()
    problems = MongoProblemStore(mongo_db, "rebuilt_")
    outcome = await replay(
        CATALOG,
        mongo_db["reports"],
        MongoScoringStore(mongo_db, "rebuilt_"),
        sent,
        at=at,
        problems=problems,
        escalate_after=AFTER,
    )
    assert outcome.problem_events == len(EVENTS) and outcome.events == 0

    live = InMemoryProblemStore()
    live_desk = ProblemDesk(CATALOG, live, Sent(), base_url="http://x/", escalate_after=AFTER)
    await live_desk.apply(list(reversed(EVENTS)), None)  # any order: the same fold
    await live_desk.escalate(at)
    rebuilt = {d["_id"]: d for d in await problems.problems(ProblemQuery())}
    expected = {d["_id"]: d for d in await live.problems(ProblemQuery())}
    assert {k: comparable(d) for k, d in rebuilt.items()} == {
        k: comparable(d) for k, d in expected.items()
    }
    assert (
        {k for k, d in rebuilt.items() if d.get("escalated_at")}
        == {k for k, d in expected.items() if d.get("escalated_at")}
        != set()
    )
    alerts = [decode_alert_event(m.value) for m in sent.messages if m.topic == topics.ALERTS]
    overdue = [str(a.labels.problem) for a in alerts if a.labels.alertname == PROBLEM_OVERDUE]
    assert sorted(overdue) == ["p-1", "p-2"]  # beside the scores' messages of the final tick

    with pytest.raises(ReplayError, match="not empty"):
        await replay(
            CATALOG,
            mongo_db["reports"],
            MongoScoringStore(mongo_db, "other_"),
            publish_nothing,
            problems=problems,
            at=at + timedelta(days=1),
        )
