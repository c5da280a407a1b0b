"""docs/contract.zh.md keeps in step with docs/contract.md (#18): the same headings, the same
code blocks byte for byte and in order, and every reason code and event type named in both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.contract.events import EventType
from shared.contract.reasons import Reason
from tests.unit.contract_fixtures import KEY_ID, PUBLIC_KEY_HEX, SEED
from tests.unit.test_contract_signing import EXPECTED_SIGNATURE

DOCS = Path(__file__).resolve().parents[2] / "docs"
ENGLISH = DOCS / "contract.md"
CHINESE = DOCS / "contract.zh.md"

_FENCE = re.compile(r"^([ \t]*)```")
_HEADING = re.compile(r"^(#{2,3}) \S")


def split(text: str) -> tuple[list[str], list[str]]:
    """The fenced code blocks (fences and indentation included) and the prose lines outside them."""
    blocks: list[str] = []
    prose: list[str] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            prose.append(lines[i])
            i += 1
            continue
        closing = re.compile(re.escape(opening.group(1)) + r"```\s*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        assert end < len(lines), f"unclosed code block at line {i + 1}"
        blocks.append("".join(lines[i : end + 1]))
        i = end + 1
    return blocks, prose


def headings(text: str) -> list[str]:
    """The `##` and `###` levels in order (the titles differ: one is translated)."""
    _, prose = split(text)
    return [m.group(1) for line in prose if (m := _HEADING.match(line))]


@pytest.fixture(scope="module")
def english() -> str:
    return ENGLISH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def chinese() -> str:
    return CHINESE.read_text(encoding="utf-8")


def test_the_two_files_link_to_each_other(english: str, chinese: str) -> None:
    assert "(contract.zh.md)" in "".join(english.splitlines(keepends=True)[:5])
    assert "(contract.md)" in "".join(chinese.splitlines(keepends=True)[:5])


def test_same_headings_in_the_same_order(english: str, chinese: str) -> None:
    levels = headings(english)
    assert levels.count("##") >= 7 and levels.count("###") >= 2
    assert headings(chinese) == levels


def test_every_code_block_copied_byte_for_byte_in_order(english: str, chinese: str) -> None:
    english_blocks, _ = split(english)
    chinese_blocks, _ = split(chinese)
    assert len(english_blocks) >= 4
    assert chinese_blocks == english_blocks


def test_the_signing_test_vector_is_in_both(english: str, chinese: str) -> None:
    """The worked example is the one tests/unit/test_contract_signing.py checks."""
    for text in (english, chinese):
        for value in (SEED.hex(), PUBLIC_KEY_HEX, KEY_ID, EXPECTED_SIGNATURE):
            assert f"`{value}`" in text


@pytest.mark.parametrize("name", [*Reason, *EventType], ids=str)
def test_reason_codes_and_event_types_named_in_both(
    name: Reason | EventType, english: str, chinese: str
) -> None:
    assert f"`{name.value}`" in english
    assert f"`{name.value}`" in chinese
