"""Label matchers with Alertmanager's semantics: ``=``, ``!=``, ``=~``, ``!~``.

A missing label has the value ``""``; regular expressions are fully anchored
(``^(?:re)$``) and run on RE2 (``google-re2``), as Alertmanager's Go regexps do: matching
takes linear time, so no silence or route can stall the event loop with backtracking (a
pattern such as ``(.*.*)*x`` takes seconds per label in Python's ``re``). Strings parse as
in Alertmanager's matcher syntax: ``name op value`` where
the value is either double-quoted (``\\"``, ``\\\\`` and ``\\n`` escapes) or bare, and
several matchers may be written as ``{a="1", b=~"2|3"}``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import re2

# `\Z`, not `$`: `$` also matches before a final newline, so "a\n" would pass as a name.
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")


class MatcherError(ValueError):
    """A matcher string or regular expression that cannot be used."""


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


MAX_PATTERN_CHARS = 1024
_SURROGATE = re.compile("[\ud800-\udfff]")


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> Any:  # re2's pattern object (no type stubs)
    if len(pattern) > MAX_PATTERN_CHARS:
        raise MatcherError(f"regular expression longer than {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(f"(?:{pattern})")
    except (re2.error, UnicodeEncodeError) as exc:
        raise MatcherError(f"bad regular expression {pattern!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    type: MatchType
    value: str

    def __post_init__(self) -> None:
        if not LABEL_NAME.match(self.name):
            raise MatcherError(f"bad label name {self.name!r}")
        if _SURROGATE.search(self.value):  # no label value can hold one; nor can BSON
            raise MatcherError(f"matcher value {self.value!r} is not valid Unicode text")
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            _compiled(self.value)  # refuse a bad pattern at construction

    def matches(self, value: str) -> bool:
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        hit = _compiled(self.value).fullmatch(value) is not None
        return hit if self.type is MatchType.REGEX else not hit

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        return self.matches(labels.get(self.name, ""))

    def __str__(self) -> str:
        return f"{self.name}{self.type.value}{json.dumps(self.value, ensure_ascii=False)}"


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """All matchers match (an empty list matches everything)."""
    return all(m.matches_labels(labels) for m in matchers)


def matchers_key(matchers: Sequence[Matcher]) -> str:
    """Alertmanager's ``Matchers.String()`` of the sorted matchers: ``{a="1",b=~"x"}``."""
    ordered = sorted(matchers, key=lambda m: (m.name, m.value, m.type.value))
    return "{" + ",".join(str(m) for m in ordered) + "}"


_OPERATORS = ("=~", "!~", "!=", "=")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def fail(self, reason: str) -> MatcherError:
        return MatcherError(f"bad matcher {self.text!r} at offset {self.pos}: {reason}")

    def name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1
        name = self.text[start : self.pos]
        if not LABEL_NAME.match(name):
            raise self.fail("expected a label name")
        return name

    def operator(self) -> MatchType:
        for op in _OPERATORS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                return MatchType(op)
        raise self.fail("expected one of =, !=, =~, !~")

    def value(self, stops: str) -> str:
        if self.peek() != '"':
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in stops:
                if self.text[self.pos] == '"':
                    raise self.fail("a quote inside an unquoted value")
                self.pos += 1
            return self.text[start : self.pos].rstrip()
        self.pos += 1
        out: list[str] = []
        while True:
            if self.at_end():
                raise self.fail("unterminated quoted value")
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                escaped = self.peek()
                if escaped not in _ESCAPES:
                    raise self.fail(f"unknown escape \\{escaped}")
                out.append(_ESCAPES[escaped])
                self.pos += 1
            else:
                out.append(char)


def _one(scanner: _Scanner, stops: str) -> Matcher:
    scanner.skip_space()
    name = scanner.name()
    scanner.skip_space()
    op = scanner.operator()
    scanner.skip_space()
    value = scanner.value(stops)
    return Matcher(name, op, value)


def parse_matcher(text: str) -> Matcher:
    """One matcher, e.g. ``severity=~"warning|critical"`` or ``agency = qy.miit``."""
    scanner = _Scanner(text)
    matcher = _one(scanner, stops="")
    scanner.skip_space()
    if not scanner.at_end():
        raise scanner.fail("unexpected text after the value")
    return matcher


def parse_matchers(text: str) -> list[Matcher]:
    """A comma-separated list, with or without braces: ``{a="1", b!="2"}``."""
    stripped = text.strip()
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise MatcherError(f"bad matchers {text!r}: missing closing brace")
        stripped = stripped[1:-1]
    scanner = _Scanner(stripped)
    result: list[Matcher] = []
    scanner.skip_space()
    while not scanner.at_end():
        result.append(_one(scanner, stops=","))
        scanner.skip_space()
        if scanner.peek() == ",":
            scanner.pos += 1
            scanner.skip_space()
        elif not scanner.at_end():
            raise scanner.fail("expected a comma between matchers")
    return result


MAX_FILTER_MATCHERS = 64


def parse_filter(items: Sequence[str]) -> list[Matcher]:
    """Alertmanager's API ``filter`` parameter: every item is exactly one matcher
    (``name op value``, braces optional, as its ``compat.Matcher``); at most
    MAX_FILTER_MATCHERS of them."""
    if len(items) > MAX_FILTER_MATCHERS:
        raise MatcherError(f"more than {MAX_FILTER_MATCHERS} filter matchers")
    result: list[Matcher] = []
    for item in items:
        parsed = parse_matchers(item)
        if len(parsed) != 1:
            raise MatcherError(f"bad matcher {item!r}: expected exactly one matcher")
        result.extend(parsed)
    return result


def parse_matcher_list(items: Iterable[str]) -> list[Matcher]:
    """The YAML list form: every item is one matcher string (or a braced list)."""
    result: list[Matcher] = []
    for item in items:
        result.extend(parse_matchers(item))
    return result
