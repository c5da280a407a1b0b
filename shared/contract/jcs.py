"""Strict JSON reading and RFC 8785 (JCS) canonical JSON writing.

Signatures cover the canonical form of the `data` object, so an event verifies the same whether
its data travelled as the body (binary mode) or nested in the envelope (structured mode).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Final

from shared.contract.reasons import ContractError, Reason


def _reject_constant(name: str) -> Any:
    raise ContractError(Reason.MALFORMED, f"JSON {name} is not a number this contract accepts")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ContractError(Reason.MALFORMED, f"JSON number {text} is out of range")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ContractError(Reason.MALFORMED, f"duplicate JSON key {key!r}")
        result[key] = value
    return result


# Built once: `json.loads`/`json.dumps` with keyword arguments build a new decoder or encoder
# (and its scanner) on every call, which costs as much as parsing a small event.
_DECODER: Final = json.JSONDecoder(
    parse_constant=_reject_constant,
    parse_float=_finite_float,
    object_pairs_hook=_unique_keys,
)
_TEXT_ENCODER: Final = json.JSONEncoder(ensure_ascii=False)
_CANONICAL_ENCODER: Final = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":")
)


# Far deeper than any event (a few levels): deeper input is refused, never a RecursionError
# (a 500 at the HTTP door, a stalled consumer on a topic).
MAX_DEPTH: Final = 32


def loads(raw: bytes) -> Any:
    """Parse UTF-8 JSON, refusing NaN/Infinity, numbers beyond double range, duplicate keys
    and nesting deeper than MAX_DEPTH."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContractError(Reason.MALFORMED, f"not UTF-8: {exc}") from None
    try:
        if text.startswith("\ufeff"):  # as `json.loads` does
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise ContractError(Reason.MALFORMED, f"invalid JSON: {exc}") from None
    except RecursionError:  # the C scanner gives up near the interpreter's recursion limit
        raise ContractError(Reason.MALFORMED, f"JSON nested deeper than {MAX_DEPTH}") from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    """Iteratively (no recursion of our own): containers at most MAX_DEPTH deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            raise ContractError(Reason.MALFORMED, f"JSON nested deeper than {MAX_DEPTH}")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def format_number(number: float) -> str:
    """An IEEE double as ECMAScript's Number.prototype.toString writes it (RFC 8785 3.2.2.3)."""
    if not math.isfinite(number):
        raise ContractError(Reason.MALFORMED, f"{number} has no JSON form")
    if number == 0:
        return "0"  # also -0
    if number < 0:
        return "-" + format_number(-number)
    # repr gives the shortest digits that round-trip, as ECMAScript requires.
    sign, digit_tuple, exponent = Decimal(repr(number)).normalize().as_tuple()
    assert isinstance(exponent, int) and sign == 0
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = exponent + k  # the value is 0.<digits> * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return f"{digits[:n]}.{digits[n:]}"
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
    return f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _write(value: Any, out: list[str]) -> None:  # the full RFC 8785 writer
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        # Python's escaping with ensure_ascii=False is exactly JCS's: \" \\ \b \f \n \r \t and
        # \u00xx (lowercase) for other controls; everything else literal.
        out.append(_TEXT_ENCODER.encode(value))
    elif isinstance(value, int):
        try:
            out.append(format_number(float(value)))
        except OverflowError:
            raise ContractError(Reason.MALFORMED, "integer beyond double range") from None
    elif isinstance(value, float):
        out.append(format_number(value))
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        # JCS orders member names by their UTF-16 code units.
        for index, key in enumerate(
            sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        ):
            if not isinstance(key, str):
                raise TypeError(f"JSON object key {key!r} is not a string")
            if index:
                out.append(",")
            out.append(_TEXT_ENCODER.encode(key))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def check_encodable(value: Any) -> None:
    """`malformed` for a string holding a lone surrogate (a JSON `\\ud800` escape), which has
    no UTF-8 form and so no canonical form; C-speed, unlike a full `canonicalize`."""
    try:
        _TEXT_ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:
        raise ContractError(Reason.MALFORMED, "string with a lone surrogate") from None


_EXACT_INTEGER = 2**53


class _FastPathUnsureError(Exception):
    """The fast path cannot vouch for this value's canonical form."""


def _plain(value: Any) -> Any:
    """The value with every number in a form `json.dumps` writes exactly as JCS does.

    Integers (and integral floats) below 2^53 are written as integers; other non-integral floats
    only where Python's repr is positional (1e-4 <= |x| < 1e16), the range where repr and
    ECMAScript agree.
    Object keys must be ASCII, where code-point order is UTF-16 order. Anything else raises
    `_FastPathUnsureError`.
    """
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -_EXACT_INTEGER < value < _EXACT_INTEGER:
            return value
        raise _FastPathUnsureError
    if isinstance(value, float):
        if value.is_integer():
            # A whole double from 2^53 on: Python writes `.0`, ECMAScript does not (RFC 8785
            # writes 9007199254740994, not 9007199254740994.0): the full writer takes it.
            if -_EXACT_INTEGER < value < _EXACT_INTEGER:
                return int(value)
            raise _FastPathUnsureError
        if 1e-4 <= abs(value) < 1e16:
            return value
        raise _FastPathUnsureError
    if isinstance(value, dict):
        if not all(isinstance(key, str) and key.isascii() for key in value):
            raise _FastPathUnsureError
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    raise _FastPathUnsureError


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        text = _CANONICAL_ENCODER.encode(_plain(value))
    except _FastPathUnsureError:
        pass
    else:
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise ContractError(Reason.MALFORMED, "string with a lone surrogate") from None
    out: list[str] = []
    _write(value, out)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        raise ContractError(Reason.MALFORMED, "string with a lone surrogate") from None
