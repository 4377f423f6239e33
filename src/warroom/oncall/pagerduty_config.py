"""Where PagerDuty's schedules are and how to map them (`integrations.pagerduty_oncall`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from warroom.core.urls import vendor_url
from warroom.organisation import PERSON_ID
from warroom.secrets import Secret

DEFAULT_BASE_URL = "https://api.pagerduty.com"


PagerDutyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

LayerName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]

PersonId = Annotated[str, StringConstraints(pattern=PERSON_ID)]


class PagerDutyScheduleMap(BaseModel):
    """A warroom schedule whose layers (primary, secondary, …) are PagerDuty schedules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pagerduty_schedule_ids: dict[LayerName, Annotated[list[PagerDutyId], Field(min_length=1)]] = (
        Field(min_length=1)
    )


class PagerDutyOnCallConfig(BaseModel):
    """`integrations.pagerduty_oncall` in warroom.yaml: where to ask and how to map answers."""

    model_config = ConfigDict(extra="forbid")

    api_key: Secret
    base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    schedules: dict[PersonId, PagerDutyScheduleMap] = Field(default_factory=dict)
    people: dict[str, PersonId] = Field(default_factory=dict)  # PagerDuty e-mail or id -> person

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        vendor_url(value, "base_url")
        return value.rstrip("/")

    @field_validator("people")
    @classmethod
    def _people(cls, value: dict[str, str]) -> dict[str, str]:
        # E-mail addresses are matched without regard to case; PagerDuty ids as written.
        return {(k.lower() if "@" in k else k): v for k, v in value.items()}
