"""Alertmanager-style label matchers: parsing, matching, errors."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warroom.detection.matchers import (
    Matcher,
    matches_all,
    parse_matcher,
    parse_matchers,
    quote,
)

label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
values = st.text(max_size=20)
label_sets = st.dictionaries(st.sampled_from(["x", "y", "service"]), values, max_size=3)


@pytest.mark.parametrize(
    ("text", "name", "op", "value"),
    [
        ('service="checkout"', "service", "=", "checkout"),
        ('env!="dev"', "env", "!=", "dev"),
        ('severity=~"critical|sev1"', "severity", "=~", "critical|sev1"),
        ('team!~"qa.*"', "team", "!~", "qa.*"),
        ('service = "checkout"', "service", "=", "checkout"),
        ('  env  !=  "dev"  ', "env", "!=", "dev"),
        ('severity =~ "critical"', "severity", "=~", "critical"),
        ('team\t!~\t"qa"', "team", "!~", "qa"),
        ('x=""', "x", "=", ""),
        ('_x9="v"', "_x9", "=", "v"),
        ('msg="say \\"hi\\""', "msg", "=", 'say "hi"'),
        ('path="C:\\\\temp"', "path", "=", "C:\\temp"),
        ('text="a\\nb"', "text", "=", "a\nb"),
        ('re=~"a\\.b\\d"', "re", "=~", "a\\.b\\d"),  # unknown escapes stay literal
        ('x="="', "x", "=", "="),
        ('x="a b"', "x", "=", "a b"),
        ('x=" padded "', "x", "=", " padded "),
        ('x="ünïcode"', "x", "=", "ünïcode"),
    ],
)
def test_parse(text: str, name: str, op: str, value: str) -> None:
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('service="checkout"', {"service": "checkout"}, True),
        ('service="checkout"', {"service": "checkout2"}, False),
        ('service="checkout"', {"service": "Checkout"}, False),
        ('service="checkout"', {}, False),
        ('env!="dev"', {"env": "prod"}, True),
        ('env!="dev"', {"env": "dev"}, False),
        ('env!="dev"', {}, True),
        ('severity=~"critical|sev1"', {"severity": "critical"}, True),
        ('severity=~"critical|sev1"', {"severity": "sev1"}, True),
        ('severity=~"critical|sev1"', {"severity": "sev12"}, False),
        ('severity=~"critical|sev1"', {"severity": "xcritical"}, False),
        ('severity=~"critical|sev1"', {}, False),
        ('team!~"qa.*"', {"team": "qa-east"}, False),
        ('team!~"qa.*"', {"team": "payments"}, True),
        ('team!~"qa.*"', {"team": "aqa"}, True),
        ('team!~"qa.*"', {}, True),
    ],
)
def test_operators(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ('s=~"sev"', "sev1", False),
        ('s=~"sev"', "xsev", False),
        ('s=~"sev"', "sev", True),
        ('s=~"sev.*"', "sev1", True),
        ('s=~".*sev"', "1sev", True),
        ('s=~"a|b"', "ab", False),
        ('s=~"a|ab"', "ab", True),
        ('s=~"sev"', "sev\n", False),  # `$` alone would accept a trailing newline
        ('s!~"sev"', "sev1", True),
        ('s=~"(?i)critical"', "CRITICAL", True),
    ],
)
def test_regexes_are_fully_anchored(text: str, value: str, expected: bool) -> None:
    assert parse_matcher(text).matches({"s": value}) is expected


def test_missing_label_is_the_empty_string() -> None:
    assert parse_matcher('x=""').matches({})
    assert parse_matcher('x=""').matches({"x": ""})
    assert not parse_matcher('x=""').matches({"x": "v"})
    assert not parse_matcher('x!=""').matches({})
    assert parse_matcher('x!=""').matches({"x": "v"})
    assert parse_matcher('x=~".*"').matches({})
    assert not parse_matcher('x=~".+"').matches({})
    assert parse_matcher('x!~".+"').matches({})


def test_escaped_quote_in_value_matches_literally() -> None:
    matcher = parse_matcher(r'msg="say \"hi\" \\ bye"')
    assert matcher.matches({"msg": 'say "hi" \\ bye'})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid matcher '': it is empty"),
        ("   ", "invalid matcher '   ': it is empty"),
        (
            "service=checkout",
            "invalid matcher 'service=checkout': the value must be in double quotes",
        ),
        ("service='checkout'", "the value must be in double quotes"),
        ("service=", "the value must be in double quotes"),
        ("service", "expected an operator (=, !=, =~ or !~) after the label name"),
        ('service"checkout"', "label name 'service\"checkout\"' must match"),
        ('service=="x"', "the value must be in double quotes"),
        ('service~"x"', "expected an operator (=, !=, =~ or !~) after the label name"),
        ('="x"', "it must start with a label name"),
        ('1abc="x"', "label name '1abc' must match [a-zA-Z_][a-zA-Z0-9_]*"),
        ('se-rvice="x"', "label name 'se-rvice' must match"),
        ('"service"="x"', "label name '\"service\"' must match"),
        ('service="checkout', "the value has no closing double quote"),
        ('service="checkout\\"', "the value has no closing double quote"),
        ('service="check"out"', "unexpected text after the closing double quote: 'out\"'"),
        ('service="a" extra', "unexpected text after the closing double quote: ' extra'"),
        ('x=~"("', "invalid regular expression '(': missing ), unterminated subpattern"),
        ('x!~"[a-"', "invalid regular expression '[a-'"),
        ('x=~"a(?i)b"', "invalid regular expression"),
    ],
)
def test_invalid_matchers(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        parse_matcher(text)
    assert str(caught.value).startswith(f"invalid matcher {text!r}: ")


def test_direct_construction_validates() -> None:
    with pytest.raises(ValueError, match="invalid label name"):
        Matcher("bad-name", "=", "x")
    with pytest.raises(ValueError, match="invalid operator"):
        Matcher("x", "==", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid regular expression"):
        Matcher("x", "=~", "(")
    assert Matcher("x", "=~", "a|b").matches({"x": "b"})


def test_str_and_equality() -> None:
    matcher = parse_matcher(' msg != "say \\"hi\\"\\\\" ')
    assert str(matcher) == 'msg!="say \\"hi\\"\\\\"'
    assert parse_matcher(str(matcher)) == matcher
    assert matcher == Matcher("msg", "!=", 'say "hi"\\')
    assert hash(matcher) == hash(Matcher("msg", "!=", 'say "hi"\\'))
    assert matcher != Matcher("msg", "=", 'say "hi"\\')
    assert str(parse_matcher('sev =~ "a|b"')) == 'sev=~"a|b"'


def test_matches_all_and_parse_matchers() -> None:
    matchers = parse_matchers(['service="checkout"', 'severity=~"critical|sev1"'])
    assert matches_all(matchers, {"service": "checkout", "severity": "sev1"})
    assert not matches_all(matchers, {"service": "checkout", "severity": "warning"})
    assert not matches_all(matchers, {"severity": "critical"})
    assert matches_all([], {})
    with pytest.raises(ValueError, match="invalid matcher 'bad'"):
        parse_matchers(['a="b"', "bad"])


@given(name=label_names, op=st.sampled_from(["=", "!=", "=~", "!~"]), value=values)
def test_quote_round_trips(name: str, op: str, value: str) -> None:
    if op in ("=~", "!~"):
        value = re.escape(value)
    matcher = parse_matcher(f"{name} {op} {quote(value)}")
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)
    assert parse_matcher(str(matcher)) == matcher


@given(labels=label_sets, value=values)
def test_equal_matches_exactly_the_value(labels: dict[str, str], value: str) -> None:
    equal = parse_matcher(f"x={quote(value)}")
    assert equal.matches(labels) == (labels.get("x", "") == value)
    assert parse_matcher(f"x!={quote(value)}").matches(labels) == (not equal.matches(labels))


@given(labels=label_sets, value=values)
def test_escaped_regex_behaves_like_equality(labels: dict[str, str], value: str) -> None:
    regex = parse_matcher(f"x=~{quote(re.escape(value))}")
    assert regex.matches(labels) == (labels.get("x", "") == value)


@given(
    labels=label_sets,
    pattern=st.sampled_from(["", ".*", ".+", "a|b", "sev[0-9]", "(?i)crit.*", "x?y*", "[^a]*"]),
)
def test_not_regex_is_the_negation(labels: dict[str, str], pattern: str) -> None:
    positive = parse_matcher(f"x=~{quote(pattern)}").matches(labels)
    assert parse_matcher(f"x!~{quote(pattern)}").matches(labels) == (not positive)
    assert positive == (re.fullmatch(pattern, labels.get("x", "")) is not None)


@given(labels=label_sets)
def test_other_labels_do_not_matter(labels: dict[str, str]) -> None:
    matcher = parse_matcher('zzz="v"')
    assert matcher.matches({**labels, "zzz": "v"})
    assert not matcher.matches(labels)
