"""Escalation policies and the runbook's notification rules, as written in warroom.yaml."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.core.durations import Duration
from warroom.notify.config import RateLimit, RetryConfig
from warroom.organisation import CONTACT_KINDS, RuleStep, check_rules

# A target names who a step pages. `@service` stands for the incident's own service:
# its schedule (`schedule:@service/primary`) or its team (`team:@service/leads`).
TARGET = re.compile(
    r"^(?:schedule:(?P<schedule>@service|[a-z0-9][a-z0-9_.-]*)(?:/(?P<layer>[a-z0-9][a-z0-9_-]*))?"
    r"|person:(?P<person>[a-z0-9][a-z0-9_.-]*)"
    r"|team:(?P<team>@service|[a-z0-9][a-z0-9_.-]*)(?:/(?P<part>leads|members))?"
    r"|channel:(?P<channel>#?[a-z0-9][a-z0-9_-]{0,79})"
    r"|(?P<commander>commander))$"
)


class EscalationStep(BaseModel):
    """Whom to page, and how long after the escalation began."""

    model_config = ConfigDict(extra="forbid")

    after: Duration = timedelta(0)
    notify: list[str] = Field(min_length=1)

    @field_validator("notify")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for target in value:
            if not TARGET.match(target):
                raise ValueError(
                    f"{target!r} is not a target; use schedule:ID[/LAYER], person:ID, "
                    "team:ID[/leads|/members], channel:#NAME or commander "
                    "(ID may be @service for the incident's service)"
                )
        return value


class EscalationPolicy(BaseModel):
    """Ordered steps, repeated `repeat` more times until someone acknowledges."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str = ""
    repeat: int = Field(default=0, ge=0, le=20)
    steps: list[EscalationStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> EscalationPolicy:
        afters = [step.after for step in self.steps]
        if afters != sorted(afters):
            raise ValueError("steps must be in order of `after`")
        return self

    def version(self) -> str:
        """Return a short hash of the policy: the version pinned on an incident."""
        body = orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(body).hexdigest()[:12]


def builtin_policy() -> EscalationPolicy:
    """The runbook's chain when nothing else is configured: primary, secondary, team leads."""
    return EscalationPolicy(
        id="builtin",
        description="primary on call, then secondary, then the team's leads",
        repeat=1,
        steps=[
            EscalationStep(after=timedelta(0), notify=["schedule:@service/primary"]),
            EscalationStep(after=timedelta(minutes=5), notify=["schedule:@service/secondary"]),
            EscalationStep(after=timedelta(minutes=10), notify=["team:@service/leads"]),
        ],
    )


class NotificationRules(BaseModel):
    """The runbook's communication rules (`notifications:` in warroom.yaml)."""

    model_config = ConfigDict(extra="forbid")

    default_policy: str | None = None
    announce_channel: str | None = None  # None: integrations.slack.channel
    incident_channels: bool = True
    page_via: list[str] = Field(default_factory=lambda: ["chat", "email"])
    # Default personal notification rules by severity (or `default`), for people who have
    # none of their own; `via` names contact method types. Absent: page_via, at once.
    rules: dict[str, list[RuleStep]] = Field(default_factory=dict)
    executives: list[str] = Field(default_factory=list)
    cadence: dict[str, Duration] = Field(
        default_factory=lambda: {
            "SEV-1": timedelta(minutes=20),
            "SEV-2": timedelta(minutes=30),
            "SEV-3": timedelta(minutes=60),
        }
    )
    retry: RetryConfig = Field(default_factory=RetryConfig)
    # A sender that claimed a message and died gives it up after this long.
    claim_lease: Duration = timedelta(seconds=60)
    rate_limits: dict[str, RateLimit] = Field(
        default_factory=lambda: {"person": RateLimit(count=3), "channel": RateLimit(count=20)}
    )
    base_url: str | None = None  # where people open warroom, for links in messages

    @field_validator("page_via")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CONTACT_KINDS))
        if unknown:
            raise ValueError(
                f"unknown paging method {unknown[0]!r}; use {', '.join(CONTACT_KINDS)}"
            )
        return value

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: dict[str, list[RuleStep]]) -> dict[str, list[RuleStep]]:
        for name, steps in value.items():
            if not steps:
                raise ValueError(f"rules.{name} has no steps")
            check_rules(steps)
            for step in steps:
                unknown = sorted(set(step.via) - set(CONTACT_KINDS))
                if unknown:
                    raise ValueError(
                        f"rules.{name}: {unknown[0]!r} is not a contact method type; "
                        f"use {', '.join(CONTACT_KINDS)}"
                    )
        return value

    def rules_for(self, severity: str) -> list[RuleStep]:
        """Return the default rules for a severity: its own, `default`, or page_via at once."""
        steps = self.rules.get(severity) or self.rules.get("default")
        return steps if steps else [RuleStep(after=timedelta(0), via=list(self.page_via))]

    @field_validator("rate_limits")
    @classmethod
    def _limit_kinds(cls, value: dict[str, RateLimit]) -> dict[str, RateLimit]:
        unknown = sorted(set(value) - {"person", "channel", "email"})
        if unknown:
            raise ValueError(f"unknown rate limit {unknown[0]!r}; use person, channel or email")
        return value
