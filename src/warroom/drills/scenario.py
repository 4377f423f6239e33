"""Drill scenarios: a YAML timeline of alerts and reports to inject and steps expected.

```yaml
name: high-cpu
title: High CPU usage
service: checkout
allow: []            # status_page, executives, jira, webhooks, pagerduty
timeline:
  - at: 0s
    alert: {labels: {alertname: HighCPUUsage, severity: warning}}
  - at: 0s
    expect: acknowledged within 5m
```
"""

from __future__ import annotations

import re
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warroom.core.durations import Duration, format_duration
from warroom.core.errors import Invalid
from warroom.drills.config import DrillTargets

# What a scenario may let a drill reach outside warroom (all are off by default).
ALLOWABLE = ("status_page", "executives", "jira", "webhooks", "pagerduty")
# Steps an `expect` can name: the incident's milestones and some timeline events.
MILESTONES = {
    "acknowledged": "acknowledged_at",
    "triaged": "triaged_at",
    "mitigated": "mitigated_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}
EVENTS = ("status_update", "note", "commander_changed", "role_changed", "action", "checklist")
EXPECT = re.compile(r"^\s*(?P<step>[a-z_]+)\s+within\s+(?P<within>\S+)\s*$")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
SCENARIO_SIZE = 64 * 1024  # a scenario is a page of YAML, not a data file
SHIPPED = ("high-cpu", "data-breach")  # the runbook's two worked examples; the first is default


class AlertStep(BaseModel):
    """An alert injected through the normal intake path (routing, grouping, paging)."""

    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    severity: str | None = None  # the source's word, as routing reads it (critical, SEV-2, …)
    status: Literal["firing", "resolved"] = "firing"


class ReportStep(BaseModel):
    """A user report injected through intake (as the web form or Slack would send it)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    summary: str = ""
    severity: str | None = None


class Expectation(BaseModel):
    """A step the responders should take: `acknowledged within 5m` (from the step's `at`)."""

    step: str
    within: timedelta


class TimelineEntry(BaseModel):
    """One entry: at an offset from the start, an alert, a report, or an expected step."""

    model_config = ConfigDict(extra="forbid")

    at: Duration
    alert: AlertStep | None = None
    report: ReportStep | None = None
    expect: str | None = None

    @field_validator("expect")
    @classmethod
    def _expect(cls, value: str | None) -> str | None:
        if value is not None:
            expectation(value)
        return value

    @model_validator(mode="after")
    def _one(self) -> TimelineEntry:
        given = [k for k in ("alert", "report", "expect") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each entry has exactly one of alert, report or expect")
        return self

    @property
    def kind(self) -> str:
        """Return alert, report or expect."""
        return "alert" if self.alert else "report" if self.report else "expect"


class Scenario(BaseModel):
    """A drill scenario as written in its YAML file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME.pattern)
    title: str = Field(min_length=1, max_length=150)
    description: str = ""
    service: str | None = None  # the alerts' `service` label unless --service says otherwise
    allow: list[Literal["status_page", "executives", "jira", "webhooks", "pagerduty"]] = Field(
        default_factory=list
    )
    targets: DrillTargets | None = None
    timeline: list[TimelineEntry] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _starts(self) -> Scenario:
        injected = [e for e in self.timeline if e.kind != "expect"]
        if not injected:
            raise ValueError("the timeline injects nothing: add an alert or a report")
        first = min(injected, key=lambda e: e.at)
        if first.at != timedelta(0):
            raise ValueError(
                f"the first alert or report comes at {format_duration(first.at)}: "
                "one must come at 0s (it opens the drill's incident)"
            )
        return self


def expectation(text: str) -> Expectation:
    """Read `STEP within DURATION`; raise ValueError naming what is wrong."""
    from warroom.core import durations

    found = EXPECT.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not an expectation; write e.g. 'acknowledged within 5m'")
    step = found["step"]
    if step not in MILESTONES and step not in EVENTS:
        known = ", ".join([*MILESTONES, *EVENTS])
        raise ValueError(f"{step!r} is not a step warroom can check; use one of {known}")
    return Expectation(step=step, within=durations.parse(found["within"]))


def parse(text: str, *, origin: str = "scenario") -> Scenario:
    """Parse a scenario's YAML; raise Invalid with one line naming the field (or line) wrong."""
    if len(text.encode()) > SCENARIO_SIZE:
        raise Invalid(f"{origin}: larger than {SCENARIO_SIZE // 1024} KiB", {"field": "scenario"})
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise Invalid(f"{origin}{where}: {problem}", {"field": "scenario"}) from None
    if not isinstance(data, dict):
        raise Invalid(f"{origin}: a scenario is a YAML mapping", {"field": "scenario"})
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = _path(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        raise Invalid(f"{origin}: {field}: {message}", {"field": field}) from None


def _path(loc: tuple[Any, ...]) -> str:
    """Write pydantic's location as people read it: `timeline[1].at`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_starts()]", "function-after[_one()]"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "scenario"


def shipped(name: str) -> str | None:
    """Return the YAML of a scenario shipped with warroom, if there is one by that name."""
    if not NAME.match(name):
        return None
    found = resources.files("warroom.drills").joinpath("scenarios", f"{name}.yaml")
    return found.read_text(encoding="utf-8") if found.is_file() else None


def load(name_or_text: str | None) -> Scenario:
    """Return a shipped scenario by name (default: the first), or parse the YAML given."""
    if name_or_text is None or not name_or_text.strip():
        name_or_text = SHIPPED[0]
    text = shipped(name_or_text.strip())
    if text is not None:
        return parse(text, origin=f"scenario {name_or_text.strip()}")
    if "\n" not in name_or_text and ":" not in name_or_text:
        raise Invalid(
            f"no shipped scenario is called {name_or_text!r}; use {', '.join(SHIPPED)} "
            "or give a scenario file",
            {"field": "scenario"},
        )
    return parse(name_or_text)


def read_file(path: Path) -> str:
    """Read a scenario file for the CLI (which sends its text to the server)."""
    return path.read_text(encoding="utf-8")
