"""Alert routing: the `routes:` and `detection:` sections of warroom.yaml, and the Router."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from warroom.detection.matchers import LABEL_NAME, Matcher, matches_all, parse_matcher
from warroom.detection.schemas import RouteDecision
from warroom.detection.storm_config import StormConfig

logger = logging.getLogger(__name__)

SEVERITY_PATTERN = r"^SEV-[1-9]$"
_SEVERITY = re.compile(SEVERITY_PATTERN)
# Fields a later route of a `continue` chain may fill when earlier routes left them unset.
_FILLED = ("service", "team", "incident_type", "severity", "title", "group_by")

DEFAULT_SEVERITY_MAP: dict[str, str] = {
    **dict.fromkeys(
        (
            "critical",
            "crit",
            "page",
            "emergency",
            "fatal",
            "highest",
            "blocker",
            "sev1",
            "sev-1",
            "p1",
            "1",
        ),
        "SEV-1",
    ),
    **dict.fromkeys(("high", "error", "major", "sev2", "sev-2", "p2", "2"), "SEV-2"),
    **dict.fromkeys(("warning", "warn", "medium", "minor", "sev3", "sev-3", "p3", "3"), "SEV-3"),
    **dict.fromkeys(
        (
            "info",
            "informational",
            "low",
            "lowest",
            "trivial",
            "sev4",
            "sev-4",
            "p4",
            "4",
            "p5",
            "none",
        ),
        "SEV-4",
    ),
}


class _TitleEnvironment(ImmutableSandboxedEnvironment):
    """A read-only sandbox where `labels.x` is the label `x` even if a dict method shares it."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Look a mapping's key up before its attributes (so `labels.items` is the label)."""
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


# ChainableUndefined: a missing label (even `labels.a.b`) renders as the empty string.
_TEMPLATES = _TitleEnvironment(undefined=ChainableUndefined, autoescape=False)


def _check_matcher(text: str) -> str:
    """Reject a matcher string that parse_matcher cannot read."""
    try:
        parse_matcher(text)
    except ValueError as exc:
        raise PydanticCustomError("invalid_matcher", "{reason}", {"reason": str(exc)}) from exc
    return text


def _check_label_name(name: str) -> str:
    """Reject a string that is not a valid label name."""
    if not LABEL_NAME.fullmatch(name):
        raise PydanticCustomError(
            "invalid_label_name",
            "invalid label name {name}: it must match [a-zA-Z_][a-zA-Z0-9_]*",
            {"name": repr(name)},
        )
    return name


MatcherText = Annotated[str, AfterValidator(_check_matcher)]
LabelName = Annotated[str, AfterValidator(_check_label_name)]
Severity = Annotated[str, Field(pattern=SEVERITY_PATTERN)]


class RouteConfig(BaseModel):
    """One entry of `routes:` — which alerts it takes and what it sets on them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    match: list[MatcherText] = Field(default_factory=list)
    default: bool = False
    continue_: bool = Field(False, alias="continue")
    drop: bool = False
    service: str | None = Field(None, min_length=1)
    team: str | None = Field(None, min_length=1)
    incident_type: str | None = Field(None, min_length=1)
    severity: Severity | None = None
    title: str | None = None
    group_by: list[LabelName] | None = Field(None, min_length=1)
    auto_mitigate: bool = False
    # Alerts this route takes are pings of that heartbeat, not incidents (docs/heartbeats.md).
    heartbeat: str | None = Field(None, min_length=1)

    _matchers: tuple[Matcher, ...] = PrivateAttr(default=())

    @field_validator("title")
    @classmethod
    def _title_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                _TEMPLATES.parse(value)
            except TemplateSyntaxError as exc:
                raise PydanticCustomError(
                    "invalid_template",
                    "invalid title template: {message} (line {line})",
                    {"message": (exc.message or "syntax error").rstrip("."), "line": exc.lineno},
                ) from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RouteConfig:
        problem = None
        if self.default and self.match:
            problem = "a default route has no match list"
        elif not self.default and not self.match:
            problem = "a route needs a match list, or default: true"
        elif self.drop and self.continue_:
            problem = "a drop route cannot continue"
        elif self.heartbeat is not None and self.default:
            problem = "the default route cannot be a heartbeat route: give it a match list"
        elif self.heartbeat is not None and (self.drop or self.continue_):
            problem = "a heartbeat route can neither drop nor continue: its alerts are pings"
        if problem is not None:
            raise PydanticCustomError("invalid_route", problem)
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Parse the match list once (it has already been validated)."""
        self._matchers = tuple(parse_matcher(text) for text in self.match)

    @property
    def matchers(self) -> tuple[Matcher, ...]:
        """Return the parsed match list."""
        return self._matchers

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Return whether this (non-default) route takes an alert with these labels."""
        return matches_all(self._matchers, labels)


def default_severity_map() -> dict[str, str]:
    """Return the built-in mapping from source severity words to SEV-n."""
    return dict(DEFAULT_SEVERITY_MAP)


class DetectionConfig(BaseModel):
    """The `detection:` section: severity mapping and intake limits."""

    model_config = ConfigDict(extra="forbid")

    severity_map: dict[str, Severity] = Field(default_factory=default_severity_map)
    max_body_bytes: int = Field(1_048_576, gt=0)
    default_severity: Severity = "SEV-3"
    storm: StormConfig = Field(default_factory=StormConfig)  # docs/detection.md#alert-storms

    @field_validator("severity_map")
    @classmethod
    def _merge_over_default(cls, value: dict[str, str]) -> dict[str, str]:
        merged = default_severity_map()
        merged.update({word.strip().lower(): level for word, level in value.items()})
        return merged


def check_routes(routes: list[RouteConfig], severities: Collection[str]) -> list[tuple[int, str]]:
    """Return (route index, message) for problems across the route list."""
    problems: list[tuple[int, str]] = []
    defaults = [index for index, route in enumerate(routes) if route.default]
    for index in defaults[1:]:
        problems.append((index, f"only one default route is allowed (routes.{defaults[0]} is one)"))
    if defaults and defaults[0] != len(routes) - 1:
        problems.append((defaults[0], "the default route must be the last route"))
    for index, route in enumerate(routes):
        if route.severity is not None and route.severity not in severities:
            known = ", ".join(sorted(severities))
            problems.append((index, f"unknown severity {route.severity!r}; known: {known}"))
    return sorted(problems)


def check_detection(detection: DetectionConfig, severities: Collection[str]) -> list[str]:
    """Return messages for `detection:` settings that name an unconfigured severity."""
    if detection.default_severity in severities:
        return []
    known = ", ".join(sorted(severities))
    return [f"default_severity: unknown severity {detection.default_severity!r}; known: {known}"]


class Router:
    """Decide service, team, type, severity, title and grouping for an alert's labels.

    Routes are tried in order and the first matching one wins. If it has `continue: true`,
    matching goes on: each later matching route fills only the fields still unset (a field
    is set once a route in the chain names it; `auto_mitigate` counts as set when written),
    and the chain stops after a matching route without `continue`. `drop` and `heartbeat`
    come from the winning route alone. The default route applies only when no other route matched;
    `RouteDecision.route` is then None, as it is when no route applies at all.
    """

    def __init__(
        self,
        routes: list[RouteConfig],
        detection: DetectionConfig,
        severities: Collection[str],
    ) -> None:
        """Check the routes against each other and the severities; compile title templates."""
        problems = [
            f"routes.{index}: {message}" for index, message in check_routes(routes, severities)
        ]
        problems += [f"detection.{message}" for message in check_detection(detection, severities)]
        if problems:
            raise ValueError("; ".join(problems))
        self.routes = list(routes)
        self.detection = detection
        self.severities = frozenset(severities)
        self._default = next((i for i, route in enumerate(routes) if route.default), None)
        self._titles: dict[int, Template] = {
            index: _TEMPLATES.from_string(route.title)
            for index, route in enumerate(routes)
            if route.title is not None
        }

    def map_severity(self, word: str | None) -> str | None:
        """Return the configured SEV-n for a source's severity word, or None if unknown."""
        if word is None:
            return None
        key = word.strip().lower()
        level = self.detection.severity_map.get(key)
        if level is None and _SEVERITY.match(key.upper()):
            level = key.upper()
        return level if level in self.severities else None

    def matching(self, labels: Mapping[str, str]) -> list[int]:
        """Return the indexes of the routes applied to these labels, winner first."""
        chain: list[int] = []
        for index, route in enumerate(self.routes):
            if not route.default and route.matches(labels):
                chain.append(index)
                if not route.continue_:
                    break
        if not chain and self._default is not None:
            chain.append(self._default)
        return chain

    def decide(
        self,
        labels: Mapping[str, str],
        *,
        severity_hint: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> RouteDecision:
        """Route one alert; `context` (annotations, …) is passed to the title template."""
        chain = self.matching(labels)
        chosen: dict[str, Any] = {}
        title_route: int | None = None
        auto_mitigate: bool | None = None
        for index in chain:
            route = self.routes[index]
            for name in _FILLED:
                if chosen.get(name) is None and getattr(route, name) is not None:
                    chosen[name] = getattr(route, name)
                    if name == "title":
                        title_route = index
            if auto_mitigate is None and "auto_mitigate" in route.model_fields_set:
                auto_mitigate = route.auto_mitigate
        severity = chosen.get("severity") or self._severity_from(labels, severity_hint)
        title = None
        if title_route is not None:
            title = self._render_title(title_route, labels, severity, context or {})
        group_by = chosen.get("group_by")
        winner = chain[0] if chain else None
        return RouteDecision(
            route=None if winner is None or winner == self._default else winner,
            drop=winner is not None and self.routes[winner].drop,
            heartbeat=self.routes[winner].heartbeat if winner is not None else None,
            service=chosen.get("service"),
            team=chosen.get("team"),
            incident_type=chosen.get("incident_type"),
            severity=severity,
            title=title,
            group_by=tuple(group_by) if group_by is not None else None,
            auto_mitigate=bool(auto_mitigate),
        )

    def _severity_from(self, labels: Mapping[str, str], hint: str | None) -> str:
        """Map the `severity` label, else the source's hint, else use the default."""
        for word in (labels.get("severity"), hint):
            level = self.map_severity(word)
            if level is not None:
                return level
        return self.detection.default_severity

    def _render_title(
        self, index: int, labels: Mapping[str, str], severity: str, context: Mapping[str, Any]
    ) -> str | None:
        """Render a route's title on one line; None (and a warning) if rendering fails."""
        variables = {"annotations": {}, **context, "labels": labels, "severity": severity}
        try:
            rendered = self._titles[index].render(variables)
        except Exception as exc:  # any template error must not lose the alert
            logger.warning("routes.%d: title template failed: %s", index, exc)
            return None
        return " ".join(rendered.split()) or None
