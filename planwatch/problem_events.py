"""Problems raised and followed, read offline: the problem events of a JSONL file of CloudEvents
(one per line, JSON structured format, as `planwatch score` and `planwatch report` read) as the
entries of each problem's history, by problem id.

Each event is checked as ingest checks it, without keys: the contract, the plan, the subject (a
target, deliverable, indicator or task of the plan), and that its sender may send it
(`shared.contract.problem_checks`). Lines that are not problem events, are of another plan, or
are not events at all are left to `planwatch.events_file`; a problem event that does not fit
the catalog is reported with its line number and
skipped. An event id seen twice counts once. The lifecycle (a step before the raise, a closure
by another agency) is the fold's to judge (`shared.domain.problems`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from planwatch.events_file import BadLine
from shared.accepted_problem import ACTION_BY_TYPE
from shared.contract.codec import decode_structured
from shared.contract.events import ProblemEvent, ProblemRaised
from shared.contract.parsing import parse_event
from shared.contract.problem_checks import check_problem_against_catalog
from shared.contract.reasons import ContractError
from shared.domain.catalog import Catalog, Plan
from shared.domain.problems import ProblemEntry


@dataclass(slots=True)
class ProblemEntries:
    entries: dict[str, list[ProblemEntry]] = field(default_factory=dict)  # by problem id
    bad: list[BadLine] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(found) for found in self.entries.values())


def problem_entry(event: ProblemEvent, catalog: Catalog) -> tuple[str, ProblemEntry]:
    """(problem id, entry) of a problem event; ContractError when it does not fit the catalog
    or its sender may not send it."""
    instant = event.envelope.instant
    fit = check_problem_against_catalog(event, catalog, instant, timedelta(0))
    raised = event.data if isinstance(event, ProblemRaised) else None
    entry = ProblemEntry(
        event_id=event.envelope.id,
        action=ACTION_BY_TYPE[event.envelope.type],
        agency=fit.agency,
        at=instant,
        subject=event.envelope.subject or "",
        subject_kind=fit.subject_kind,
        task=fit.task,
        note=event.data.note,
        summary=raised.summary if raised is not None else None,
        needs=raised.needs if raised is not None else None,
        from_agencies=tuple(raised.from_agencies) if raised is not None else (),
        evidence=raised.evidence if raised is not None else None,
    )
    return event.data.problem_id, entry


def read_problem_entries(lines: Iterable[bytes], catalog: Catalog, plan: Plan) -> ProblemEntries:
    """The plan's problem events among `lines`, as entries by problem id."""
    result = ProblemEntries()
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        body = line.strip()
        if not body:
            continue
        try:  # a line that is no event at all is `planwatch.events_file`'s to report
            event = parse_event(decode_structured(body))
        except ContractError:
            continue
        if not isinstance(event, ProblemEvent) or event.data.plan != plan.id:
            continue
        try:
            problem_id, entry = problem_entry(event, catalog)
        except ContractError as exc:
            result.bad.append(BadLine(number, exc.reason.value, exc.message))
            continue
        if entry.event_id not in seen:
            seen.add(entry.event_id)
            result.entries.setdefault(problem_id, []).append(entry)
    return result


def read_problem_file(path: Path, catalog: Catalog, plan: Plan) -> ProblemEntries:
    with path.open("rb") as handle:
        return read_problem_entries(handle, catalog, plan)
