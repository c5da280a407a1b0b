from __future__ import annotations

import pytest

from services.notify.domain import matchers
from services.notify.domain.durations import DurationError, format_duration, parse_duration
from services.notify.domain.matchers import (
    Matcher,
    MatcherError,
    MatchType,
    matchers_key,
    parse_matcher,
    parse_matchers,
)


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('severity=~"warning|critical"', "severity", MatchType.REGEX, "warning|critical"),
        ('agency="qy.miit"', "agency", MatchType.EQUAL, "qy.miit"),
        ("agency = qy.miit", "agency", MatchType.EQUAL, "qy.miit"),
        ('rule!="x"', "rule", MatchType.NOT_EQUAL, "x"),
        ('rule !~ "a.*"', "rule", MatchType.NOT_REGEX, "a.*"),
        (r'summary="say \"hi\"\\"', "summary", MatchType.EQUAL, 'say "hi"\\'),
        ('task=""', "task", MatchType.EQUAL, ""),
    ],
)
def test_parse_one(text: str, name: str, op: MatchType, value: str) -> None:
    assert parse_matcher(text) == Matcher(name, op, value)


@pytest.mark.parametrize(
    "text", ["=x", 'a=="b"', 'a="b', 'a~"b"', '1a="b"', 'a="b" c', 'a=~"("', 'a="\\q"']
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matcher(text)


def test_parse_braced_list() -> None:
    parsed = parse_matchers('{plan="p", severity=~"warning|critical",rule!=x}')
    assert [str(m) for m in parsed] == ['plan="p"', 'severity=~"warning|critical"', 'rule!="x"']


def test_regex_is_fully_anchored() -> None:
    m = parse_matcher('severity=~"warn"')
    assert not m.matches("warning")
    assert not m.matches("prewarn")
    assert m.matches("warn")
    assert parse_matcher('severity=~"warn.*"').matches("warning")
    # alternation is anchored as a whole, as ^(?:a|b)$
    alt = parse_matcher('x=~"a|b"')
    assert alt.matches("a") and alt.matches("b") and not alt.matches("ab")


def test_missing_label_is_empty() -> None:
    labels = {"alertname": "x"}
    assert parse_matcher('team=""').matches_labels(labels)
    assert parse_matcher('team!="ops"').matches_labels(labels)
    assert not parse_matcher('team="ops"').matches_labels(labels)
    assert parse_matcher('team=~".*"').matches_labels(labels)
    assert not parse_matcher('team!~""').matches_labels(labels)


def test_matchers_key_is_sorted_and_stable() -> None:
    a = parse_matchers('b="2", a=~"1"')
    b = parse_matchers('a=~"1", b="2"')
    assert matchers_key(a) == matchers_key(b) == '{a=~"1",b="2"}'
    assert matchers_key([]) == "{}"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("4h", 14400), ("1d", 86400), ("1h30m", 5400), ("0", 0)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5", "m", "5 m", "1m1h", "-5m", "1.5h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    for text in ("30s", "5m", "4h", "1d", "1h30m"):
        assert format_duration(parse_duration(text)) == text


def test_a_catastrophic_pattern_is_matched_by_re2_not_backtracking() -> None:
    # In Python's `re` this silence takes seconds for 14 characters and ~3.5x more per extra
    # one (the plan label has 29): the event loop froze and the pod restarted into it. The
    # engine is RE2 (linear time): the same answer as `re` on short input, on long input too.
    matcher = Matcher("plan", MatchType.REGEX, "(.*.*)*x")
    assert type(matchers._compiled("(.*.*)*x")).__module__.startswith("re2")
    assert matcher.matches("abcx")
    assert not matcher.matches("qingyuan-digital-economy-2021" * 40)


def test_an_overlong_pattern_is_refused() -> None:
    with pytest.raises(MatcherError, match="longer than"):
        Matcher("plan", MatchType.REGEX, "a" * (matchers.MAX_PATTERN_CHARS + 1))
