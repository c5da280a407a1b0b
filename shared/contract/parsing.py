"""From attributes and data bytes to a validated event, with a named reason for every refusal."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, cast

from pydantic import ValidationError

from shared.contract import jcs
from shared.contract.events import (
    DATA_MODEL_BY_TYPE,
    EVENT_MODEL_BY_TYPE,
    EXTENSION_NAME_PATTERN,
    SPECVERSION,
    AgencyEvent,
    Envelope,
    EventType,
)
from shared.contract.reasons import ContractError, Reason

DEFAULT_MAX_BYTES: Final = 64 * 1024
REQUIRED_ATTRIBUTES: Final = ("specversion", "id", "source", "type", "time", "datacontenttype")
_KNOWN_FIELDS: Final = frozenset(Envelope.model_fields) - {"extensions"}
_KNOWN_TYPES: Final = frozenset(t.value for t in EventType)
_EXTENSION_NAME_RE: Final = re.compile(EXTENSION_NAME_PATTERN)


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A decoded event before its data is validated.

    `data` holds the bytes the signature covers the canonical form of: in binary mode the message
    body exactly as received; in structured mode the RFC 8785 form of the `data` member.
    """

    envelope: Envelope
    data: bytes


def describe(error: ValidationError, prefix: str) -> str:
    """One line per problem: `data.value: Input should be a finite number`."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(p) for p in (prefix, *item["loc"]) if p != "")
        parts.append(f"{location}: {item['msg']}" if location else item["msg"])
    return "; ".join(parts)


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ContractError(Reason.OVERSIZED, f"{size} bytes exceed the limit of {max_bytes}")


def envelope_from_attributes(attributes: Mapping[str, str]) -> Envelope:
    """Validate CloudEvents attributes (by name, as strings): `malformed` or `unknown_type`."""
    missing = [name for name in REQUIRED_ATTRIBUTES if name not in attributes]
    if missing:
        raise ContractError(Reason.MALFORMED, f"missing attribute(s): {', '.join(missing)}")
    if attributes["specversion"] != SPECVERSION:
        raise ContractError(
            Reason.MALFORMED,
            f"specversion {attributes['specversion']!r} is not supported (only {SPECVERSION})",
        )
    if attributes["type"] not in _KNOWN_TYPES:
        raise ContractError(Reason.UNKNOWN_TYPE, f"unknown event type {attributes['type']!r}")
    fields: dict[str, object] = {}
    extensions: dict[str, str] = {}
    for name, value in attributes.items():
        if name in _KNOWN_FIELDS:
            fields[name] = value
        else:
            extensions[name] = value
    bad = [name for name in extensions if not _is_extension_name(name)]
    if bad:
        raise ContractError(
            Reason.MALFORMED,
            f"attribute name(s) {bad} are not CloudEvents names (lowercase a-z0-9, at most 20)",
        )
    fields["type"] = EventType(attributes["type"])
    fields["extensions"] = extensions
    try:
        return Envelope.model_validate(fields)
    except ValidationError as exc:
        raise ContractError(Reason.MALFORMED, describe(exc, "")) from None


def _is_extension_name(name: str) -> bool:
    return _EXTENSION_NAME_RE.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """A validated event and the RFC 8785 form of its data, from one parse of the data bytes.

    `canonical_data` is None when the data has no canonical form (e.g. an integer beyond double
    range); `shared.contract.signing.canonical_bytes` then tells why, where it is needed.
    """

    event: AgencyEvent
    canonical_data: bytes | None


def parse_event(raw: RawEvent) -> AgencyEvent:
    """Validate the data of a decoded event against its type: the typed event or `malformed`."""
    return parse_event_canonical(raw).event


def parse_event_canonical(raw: RawEvent) -> ParsedEvent:
    """`parse_event`, keeping the canonical data JSON (which the signature covers) so that it
    need not be parsed and written again; the checks and their order are the same."""
    value = jcs.loads(raw.data)  # NaN, duplicate keys, bad UTF-8 -> malformed
    canonical_data = _canonical_or_none(value)  # lone surrogates -> malformed
    if not isinstance(value, dict):
        raise ContractError(Reason.MALFORMED, "data must be a JSON object")
    event_type = raw.envelope.type
    try:
        # From JSON so that strict mode reads dates from their YYYY-MM-DD strings.
        data = DATA_MODEL_BY_TYPE[event_type].model_validate_json(raw.data)
    except ValidationError as exc:
        raise ContractError(Reason.MALFORMED, describe(exc, "data")) from None
    try:
        event = EVENT_MODEL_BY_TYPE[event_type].model_validate(
            {"envelope": raw.envelope, "data": data}
        )
    except ValidationError as exc:
        raise ContractError(Reason.MALFORMED, describe(exc, "")) from None
    return ParsedEvent(cast(AgencyEvent, event), canonical_data)


def _canonical_or_none(value: object) -> bytes | None:
    """The canonical bytes of a parsed value; `malformed` for a lone surrogate (exactly as
    `jcs.check_encodable`); None when it has no canonical form for another reason, which is
    reported later, where the canonical form is needed, as before."""
    try:
        return jcs.canonicalize(value)
    except ContractError:
        jcs.check_encodable(value)
        return None
