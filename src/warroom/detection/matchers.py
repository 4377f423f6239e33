"""Alertmanager-style label matchers: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast, get_args

MatchOp = Literal["=", "!=", "=~", "!~"]
OPERATORS: tuple[MatchOp, ...] = get_args(MatchOp)
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# The label name is taken loosely here so that a bad one gets its own message below.
_HEAD = re.compile(r"\s*(?P<name>[^\s=!~]*)\s*(?P<op>=~|!~|!=|=)?\s*")
_UNESCAPE = {'"': '"', "\\": "\\", "n": "\n"}


@dataclass(frozen=True)
class Matcher:
    """One condition on one label; a missing label counts as the empty string."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        """Check the name and operator, and compile a regex value once."""
        if not LABEL_NAME.fullmatch(self.name):
            raise ValueError(
                f"invalid label name {self.name!r}: it must match [a-zA-Z_][a-zA-Z0-9_]*"
            )
        if self.op not in OPERATORS:
            raise ValueError(f"invalid operator {self.op!r}: use one of {', '.join(OPERATORS)}")
        if self.op in ("=~", "!~"):
            try:
                # fullmatch anchors like Alertmanager's ^(?:re)$, and unlike wrapping the text
                # it keeps a leading flag group such as (?i) valid.
                regex = re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from exc
            object.__setattr__(self, "_regex", regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether the labels satisfy this matcher."""
        actual = labels.get(self.name, "")
        if self._regex is not None:
            return (self._regex.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        """Return the matcher in the form parse_matcher reads back."""
        return f"{self.name}{self.op}{quote(self.value)}"


def quote(value: str) -> str:
    """Return value in double quotes with `\\`, `"` and newlines escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as `severity=~"critical|sev1"`; raise ValueError if invalid."""

    def fail(reason: str) -> ValueError:
        return ValueError(f"invalid matcher {text!r}: {reason}")

    if not text.strip():
        raise fail("it is empty")
    head = _HEAD.match(text)
    assert head is not None  # every part of the pattern is optional
    name, op = head["name"], head["op"]
    if not name:
        raise fail("it must start with a label name")
    if not LABEL_NAME.fullmatch(name):
        raise fail(f"label name {name!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
    if op is None:
        raise fail("expected an operator (=, !=, =~ or !~) after the label name")
    rest = text[head.end() :].rstrip()
    if not rest.startswith('"'):
        raise fail("the value must be in double quotes")
    value, end = _unquote(rest)
    if end is None:
        raise fail("the value has no closing double quote")
    if end != len(rest):
        raise fail(f"unexpected text after the closing double quote: {rest[end:]!r}")
    try:
        return Matcher(name, cast(MatchOp, op), value)
    except ValueError as exc:
        raise fail(str(exc)) from exc


def _unquote(quoted: str) -> tuple[str, int | None]:
    """Read a quoted value; return it and the index after the closing quote (None if absent)."""
    chars: list[str] = []
    position = 1
    while position < len(quoted):
        char = quoted[position]
        if char == '"':
            return "".join(chars), position + 1
        if char == "\\" and position + 1 < len(quoted):
            following = quoted[position + 1]
            # Like Alertmanager, an unknown escape stays literal, so regexes keep `\d`, `\.`.
            chars.append(_UNESCAPE.get(following, "\\" + following))
            position += 2
            continue
        chars.append(char)
        position += 1
    return "".join(chars), None


def parse_matchers(texts: Iterable[str]) -> list[Matcher]:
    """Parse several matchers; the first invalid one raises ValueError."""
    return [parse_matcher(text) for text in texts]


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Return whether the labels satisfy every matcher (true for no matchers)."""
    return all(matcher.matches(labels) for matcher in matchers)
