"""JSON Schemas (Draft 2020-12) of the contract's event types in JSON structured mode.

`python -m shared.contract.schema docs/schemas` writes them; a unit test checks that the
committed files equal what this module generates. One rule is beyond JSON Schema and is
stated in the descriptions: a progress event's `subject` equals its `data.target` (a problem
event's `subject` is the target or task it is on).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.contract.events import (
    AGENCY_SOURCE_PATTERN,
    BASE64URL_PATTERN,
    CLOCK_SOURCE,
    DATACONTENTTYPE,
    DATE_PATTERN,
    EXTENSION_NAME_PATTERN,
    ID_PATTERN,
    KEY_ID_PATTERN,
    MAX_FROM_AGENCIES,
    MAX_NEEDS_CHARS,
    MAX_NOTE_CHARS,
    MAX_REASON_CHARS,
    MAX_SUMMARY_CHARS,
    MAX_URL_CHARS,
    PROBLEM_TYPES,
    RFC3339_PATTERN,
    SPECVERSION,
    URL_PATTERN,
    EventType,
    Unit,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_NO_CONTROLS = r"^[^\x00-\x1f\x7f]+$"
_ID = {"type": "string", "pattern": ID_PATTERN}
_DATE = {"type": "string", "format": "date", "pattern": DATE_PATTERN}
_TIME = {"type": "string", "format": "date-time", "pattern": RFC3339_PATTERN}
_SCOPE = {
    **_ID,
    "description": "Method v1.1: a breakdown unit of the plan's catalog (a county-level "
    "division or a park). Absent: the target's headline figure.",
}


def _report_data() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A value (share: percent 0..100, count, rank: 1 = best) or, for a "
        "milestone, a stage id: exactly one of `value` and `stage`.",
        "required": ["plan", "target", "as_of"],
        "properties": {
            "plan": _ID,
            "target": _ID,
            "as_of": _DATE,
            "scope": _SCOPE,
            "value": {"type": "number"},
            "stage": _ID,
            "unit": {"enum": [unit.value for unit in Unit]},
            "note": {"type": "string", "maxLength": MAX_NOTE_CHARS},
            "evidence": {
                "type": "string",
                "maxLength": MAX_URL_CHARS,
                "pattern": URL_PATTERN,
            },
        },
        "additionalProperties": False,
        "oneOf": [{"required": ["value"]}, {"required": ["stage"]}],
    }


def _retraction_data() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["plan", "target", "as_of", "reason"],
        "properties": {
            "plan": _ID,
            "target": _ID,
            "as_of": _DATE,
            "scope": _SCOPE,
            "reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON_CHARS},
        },
        "additionalProperties": False,
    }


_NOTE = {"type": "string", "maxLength": MAX_NOTE_CHARS}
_URL = {"type": "string", "maxLength": MAX_URL_CHARS, "pattern": URL_PATTERN}


def _problem_raised_data() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "What blocks the subject (`summary`), what it needs, and from which "
        "agencies of the catalog (distinct ids).",
        "required": ["plan", "problem_id", "summary", "needs", "from_agencies"],
        "properties": {
            "plan": _ID,
            "problem_id": _ID,
            "summary": {"type": "string", "minLength": 1, "maxLength": MAX_SUMMARY_CHARS},
            "needs": {"type": "string", "minLength": 1, "maxLength": MAX_NEEDS_CHARS},
            "from_agencies": {
                "type": "array",
                "items": _ID,
                "minItems": 1,
                "maxItems": MAX_FROM_AGENCIES,
                "uniqueItems": True,
            },
            "note": _NOTE,
            "evidence": _URL,
        },
        "additionalProperties": False,
    }


def _problem_comment_data() -> dict[str, Any]:
    return _problem_step_data(note_required=True)


def _problem_step_data(note_required: bool = False) -> dict[str, Any]:
    required = ["plan", "problem_id"]
    note = _NOTE
    if note_required:
        required.append("note")
        note = {**_NOTE, "minLength": 1}
    return {
        "type": "object",
        "required": required,
        "properties": {"plan": _ID, "problem_id": _ID, "note": note},
        "additionalProperties": False,
    }


def _tick_data() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["at"],
        "properties": {"at": _TIME},
        "additionalProperties": False,
    }


_DESCRIPTIONS = {
    EventType.PROGRESS_REPORTED: "An agency reports a target's value as of a date. "
    "`subject` equals `data.target`.",
    EventType.PROGRESS_RETRACTED: "An agency withdraws its report of a target as of a date. "
    "`subject` equals `data.target`.",
    EventType.CLOCK_TICK: "The platform clock: time has passed (no subject).",
    EventType.PROBLEM_RAISED: "An agency responsible for a target (or task) raises a problem "
    "on it: `subject` is the target, deliverable, indicator or task id.",
    EventType.PROBLEM_ACKNOWLEDGED: "The plan's coordinator acknowledges a raised problem; "
    "`subject` is the problem's.",
    EventType.PROBLEM_COMMENTED: "The plan's coordinator comments on a raised problem; "
    "`subject` is the problem's.",
    EventType.PROBLEM_RESOLVED: "The plan's coordinator resolves a raised problem; `subject` is "
    "the problem's.",
    EventType.PROBLEM_CLOSED: "The agency that raised a problem closes it; `subject` is the "
    "problem's.",
}


def event_schema(event_type: EventType) -> dict[str, Any]:
    """The schema of one event type as a JSON structured-mode CloudEvent."""
    is_tick = event_type is EventType.CLOCK_TICK
    data = {
        EventType.PROGRESS_REPORTED: _report_data,
        EventType.PROGRESS_RETRACTED: _retraction_data,
        EventType.CLOCK_TICK: _tick_data,
        EventType.PROBLEM_RAISED: _problem_raised_data,
        EventType.PROBLEM_ACKNOWLEDGED: _problem_step_data,
        EventType.PROBLEM_COMMENTED: _problem_comment_data,
        EventType.PROBLEM_RESOLVED: _problem_step_data,
        EventType.PROBLEM_CLOSED: _problem_step_data,
    }[event_type]()
    properties: dict[str, Any] = {
        "specversion": {"const": SPECVERSION},
        "id": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": _NO_CONTROLS},
        "source": {"const": CLOCK_SOURCE}
        if is_tick
        else {"type": "string", "pattern": AGENCY_SOURCE_PATTERN},
        "type": {"const": event_type.value},
        "time": _TIME,
        "datacontenttype": {"const": DATACONTENTTYPE},
        "sigkeyid": {"type": "string", "pattern": KEY_ID_PATTERN},
        "signature": {
            "type": "string",
            "description": "Ed25519 signature, unpadded base64url (docs/contract.md)",
            "pattern": BASE64URL_PATTERN,
            "maxLength": 256,
        },
        "data": data,
    }
    if event_type in PROBLEM_TYPES:
        properties["subject"] = {**_ID, "description": "The target, deliverable, indicator or task"}
    elif not is_tick:
        properties["subject"] = _ID
    required = ["specversion", "id", "source", "type", "time", "datacontenttype", "data"]
    if not is_tick:
        required.insert(4, "subject")
    schema: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": f"urn:planwatch:schema:{event_type.value}",
        "title": event_type.value,
        "description": _DESCRIPTIONS[event_type],
        "type": "object",
        "required": required,
        "properties": properties,
        # Other attributes are CloudEvents extensions: lowercase names, string values.
        "propertyNames": {"anyOf": [{"pattern": EXTENSION_NAME_PATTERN}, {"const": "data"}]},
        "additionalProperties": {"type": "string", "maxLength": 1024},
    }
    if is_tick:
        schema["not"] = {"required": ["subject"]}
    return schema


def schema_files() -> dict[str, str]:
    """File name -> file text for every event type."""
    return {
        f"{event_type.value}.json": json.dumps(event_schema(event_type), indent=2) + "\n"
        for event_type in EventType
    }


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_files().items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m shared.contract.schema DIRECTORY", file=sys.stderr)
        return 2
    for path in write_schemas(Path(args[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
