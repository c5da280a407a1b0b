"""Why an event is refused: the one list of reason codes that ingest reports and counts."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # Parsing (shared.contract): the bytes are not an event of this contract.
    MALFORMED = "malformed"
    OVERSIZED = "oversized"
    UNKNOWN_TYPE = "unknown_type"
    # Authentication (shared.contract.signing, with the key registry).
    UNSIGNED = "unsigned"
    UNKNOWN_KEY = "unknown_key"
    REVOKED_KEY = "revoked_key"
    BAD_SIGNATURE = "bad_signature"
    # Semantics against the catalog (ingest).
    UNKNOWN_PLAN = "unknown_plan"
    UNKNOWN_TARGET = "unknown_target"
    UNKNOWN_AGENCY = "unknown_agency"
    NOT_RESPONSIBLE = "not_responsible"
    NOT_REPORTER = "not_reporter"  # v1.1: a headline figure from an agency not its reporter
    UNKNOWN_SCOPE = "unknown_scope"  # v1.1: a scope the plan's catalog does not define
    # Problems: acknowledged, commented on and resolved by the plan's coordinator only.
    NOT_COORDINATOR = "not_coordinator"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    UNIT_MISMATCH = "unit_mismatch"
    AS_OF_OUT_OF_RANGE = "as_of_out_of_range"
    TIME_IN_FUTURE = "time_in_future"
    CONFLICT = "conflict"


class ContractError(ValueError):
    """An event refused for a named reason; `message` says what exactly was wrong."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message

    def __reduce__(self) -> tuple[type[ContractError], tuple[Reason, str]]:
        return (type(self), (self.reason, self.message))
