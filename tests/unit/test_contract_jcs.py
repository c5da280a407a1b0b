"""RFC 8785 canonical JSON and the strict JSON reader."""

from __future__ import annotations

import struct
from datetime import date
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from shared.contract import jcs
from shared.contract.events import ProgressReported, new_report
from shared.contract.parsing import RawEvent, parse_event
from shared.contract.reasons import ContractError, Reason


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


# RFC 8785 appendix B: IEEE-754 bit patterns and their canonical text.
@pytest.mark.parametrize(
    ("bits", "text"),
    [
        ("0000000000000000", "0"),
        ("8000000000000000", "0"),
        ("0000000000000001", "5e-324"),
        ("8000000000000001", "-5e-324"),
        ("7fefffffffffffff", "1.7976931348623157e+308"),
        ("ffefffffffffffff", "-1.7976931348623157e+308"),
        ("4340000000000000", "9007199254740992"),
        ("c340000000000000", "-9007199254740992"),
        ("4430000000000000", "295147905179352830000"),
        ("44b52d02c7e14af5", "9.999999999999997e+22"),
        ("44b52d02c7e14af6", "1e+23"),
        ("44b52d02c7e14af7", "1.0000000000000001e+23"),
        ("444b1ae4d6e2ef4e", "999999999999999700000"),
        ("444b1ae4d6e2ef4f", "999999999999999900000"),
        ("444b1ae4d6e2ef50", "1e+21"),
        ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
        ("3eb0c6f7a0b5ed8d", "0.000001"),
        ("41b3de4355555553", "333333333.3333332"),
        ("41b3de4355555554", "333333333.33333325"),
        ("41b3de4355555555", "333333333.3333333"),
        ("41b3de4355555556", "333333333.3333334"),
        ("41b3de4355555557", "333333333.33333343"),
        ("becbf647612f3696", "-0.0000033333333333333333"),
        ("43143ff3c1cb0959", "1424953923781206.2"),
    ],
)
def test_numbers_follow_ecmascript(bits: str, text: str) -> None:
    assert jcs.format_number(_double(bits)) == text


def test_integers_and_plain_values() -> None:
    assert jcs.canonicalize([5, 5.0, 100, 0.5, -1, True, None]) == b"[5,5,100,0.5,-1,true,null]"


def test_keys_sorted_by_utf16_and_no_whitespace() -> None:
    # U+1F600 (surrogates D83D..) sorts before U+FFFD in UTF-16 though after it in code points.
    value = {"b": 1, "a": {"z": [], "y": "x"}, "\ufffd": 2, "\U0001f600": 3}
    assert jcs.canonicalize(value) == '{"a":{"y":"x","z":[]},"b":1,"😀":3,"\ufffd":2}'.encode()


def test_string_escapes() -> None:
    assert jcs.canonicalize('"\\\n\t\x01é€') == b'"\\"\\\\\\n\\t\\u0001\xc3\xa9\xe2\x82\xac"'


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": -Infinity}', "-Infinity"),
        (b'{"a": 1e400}', "out of range"),
        (b'{"a": 1, "a": 2}', "duplicate JSON key 'a'"),
        (b"{", "invalid JSON"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_strict_reader_refuses(raw: bytes, fragment: str) -> None:
    with pytest.raises(ContractError) as caught:
        jcs.loads(raw)
    assert caught.value.reason is Reason.MALFORMED
    assert fragment in caught.value.message


def test_lone_surrogate_is_malformed() -> None:
    with pytest.raises(ContractError) as caught:
        jcs.canonicalize(jcs.loads(b'"\\ud800"'))
    assert caught.value.reason is Reason.MALFORMED


def test_parse_event_refuses_a_lone_surrogate_in_the_data() -> None:
    event = new_report(
        agency="qy.gov-data",
        plan="p",
        target="gov.mobile-services",
        as_of=date(2022, 6, 30),
        time="2022-07-04T09:00:00+08:00",
        value=66.0,
    )
    data = b'{"plan":"p","target":"gov.mobile-services","as_of":"2022-06-30","value":66,'
    with pytest.raises(ContractError) as caught:
        parse_event(RawEvent(event.envelope, data + b'"note":"\\ud800"}'))
    assert caught.value.reason is Reason.MALFORMED
    assert "surrogate" in caught.value.message
    accepted = parse_event(RawEvent(event.envelope, data + b'"note":"ok"}'))
    assert isinstance(accepted, ProgressReported) and accepted.data.note == "ok"


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


def _full_writer(value: object) -> bytes:
    out: list[str] = []
    jcs._write(value, out)
    return "".join(out).encode("utf-8")


@given(_JSON_VALUES)
def test_fast_path_equals_the_full_rfc8785_writer(value: object) -> None:
    try:
        expected = _full_writer(value)
    except (ContractError, UnicodeEncodeError):
        with pytest.raises(ContractError):
            jcs.canonicalize(value)
        return
    assert jcs.canonicalize(value) == expected


@pytest.mark.parametrize("depth", [jcs.MAX_DEPTH + 1, 5_000, 500_000])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_is_malformed_not_a_recursion_error(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    raw = (opener * depth + "1" + closer * depth).encode()
    with pytest.raises(ContractError) as caught:
        jcs.loads(raw)
    assert caught.value.reason is Reason.MALFORMED and "nested deeper" in str(caught.value)


def test_nesting_up_to_the_limit_parses() -> None:
    raw = ("[" * jcs.MAX_DEPTH + "1" + "]" * jcs.MAX_DEPTH).encode()
    value = jcs.loads(raw)
    for _ in range(jcs.MAX_DEPTH):
        (value,) = value
    assert value == 1


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _encodable(value: object) -> bool:
    try:
        jcs.check_encodable(value)
    except ContractError:
        return False
    return True


@given(JSON_VALUES)
def test_canonical_form_equals_an_independent_rfc8785_writer(value: Any) -> None:
    # Differential: the `rfc8785` package (Trail of Bits) on generated JSON values, floats of
    # every magnitude included; a Java or Go agency signs with such a writer.
    if not _encodable(value):
        return  # a lone surrogate has no canonical form (refused as malformed)
    assert jcs.canonicalize(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (9007199254740992.0, b"9007199254740992"),  # 2^53
        (9007199254740994.0, b"9007199254740994"),  # was written 9007199254740994.0
        (1e15 + 0.5, b"1000000000000000.5"),
        (9999999999999998.0, b"9999999999999998"),
        (1e16, b"10000000000000000"),
        (1e21, b"1e+21"),
    ],
)
def test_whole_doubles_from_two_to_the_53_are_written_without_a_fraction(
    value: float, text: bytes
) -> None:
    assert jcs.canonicalize({"v": value}) == b'{"v":' + text + b"}"
    assert rfc8785.dumps({"v": value}) == b'{"v":' + text + b"}"
