"""The report times of the rows an agency has sent: what keeps a re-sent file a duplicate.

A row's event id comes from its content alone, but the signature (and so ingest's content hash)
also covers the event's `time`, when the agency reported. If a row sent again carried a new
time, ingest would refuse it as a `conflict` (same id, other content). So `publish --file`
notes each row's id and time here before it sends the row, and gives a row that is already
noted its first time again: the re-send is byte for byte the same event, answered `duplicate`.

One JSON line per row, `{"id": …, "time": …}`, appended and flushed to disk before sending
(a run that dies half way is re-sent with the same times). A line that cannot be read (say, cut
short by a crash) is ignored. The default file is per agency under `$XDG_STATE_HOME/planwatch`
(`~/.local/state/planwatch`): `sent-<agency>.jsonl`; `--ledger` names another. It is never
pruned. If it is lost, rows sent before get a new time and ingest refuses them as `conflict`:
the stored reports stay as they were and nothing is stored twice (docs/ingest.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path


def default_path(agency: str) -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "planwatch" / f"sent-{agency}.jsonl"


def read_times(path: Path, ids: Collection[str]) -> dict[str, str]:
    """The noted time of each of `ids` that the ledger holds (the first one noted wins)."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if not isinstance(entry, dict):
                continue
            event_id, time = entry.get("id"), entry.get("time")
            if isinstance(event_id, str) and isinstance(time, str) and event_id in ids:
                found.setdefault(event_id, time)
    return found


def note_times(path: Path, times: Mapping[str, str], known: Iterable[str] = ()) -> int:
    """Append the (id, time) pairs not among `known`; on disk when this returns. The count."""
    skip = set(known)
    lines = [
        json.dumps({"id": event_id, "time": time}, ensure_ascii=False) + "\n"
        for event_id, time in times.items()
        if event_id not in skip
    ]
    if not lines:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
    return len(lines)
