"""Where a benchmark's result goes: JSON in bench/results/ named by benchmark and UTC instant,
and its table on standard output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().with_name("results")


def write_result(name: str, result: dict[str, Any], table: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table)
    print(f"written: {path}")
    return path
