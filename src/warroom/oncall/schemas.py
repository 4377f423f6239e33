"""Shapes of the on-call API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from warroom.core.types import Name, Reason
from warroom.incidents.schemas import Input
from warroom.oncall.models import OverrideRow


class PersonRef(BaseModel):
    """A person as the on-call answers show them."""

    id: str
    name: str | None


class LayerNow(BaseModel):
    """Who is on call in one layer."""

    name: str
    on_call: list[PersonRef]


class ScheduleNow(BaseModel):
    """One schedule's layers at the asked time."""

    id: str
    timezone: str
    layers: list[LayerNow]


class OnCallNow(BaseModel):
    """Who is on call at `at`."""

    at: datetime
    schedules: list[ScheduleNow]


class ShiftOut(BaseModel):
    """One shift of one person."""

    schedule: str
    timezone: str = Field(description="The schedule's IANA time zone; its handoffs follow it.")
    layer: str
    person: PersonRef
    start: datetime
    end: datetime


class OverrideCreate(Input):
    """Cover (replace) or join (add) a schedule layer for a window."""

    schedule: Name
    layer: Name
    person: Name
    mode: Literal["replace", "add"] = "replace"
    starts_at: datetime | None = Field(default=None, description="Default: now.")
    ends_at: datetime | None = Field(default=None, description="Give this or duration_minutes.")
    duration_minutes: int | None = Field(default=None, ge=1, le=129_600)
    reason: Annotated[Reason, Field(min_length=1)]


class OverrideOut(BaseModel):
    """A stored override."""

    id: int
    schedule: str
    layer: str
    person: str
    mode: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: OverrideRow) -> OverrideOut:
        """Build from the stored row."""
        return cls(
            id=row.id,
            schedule=row.schedule,
            layer=row.layer,
            person=row.person,
            mode=row.mode,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            reason=row.reason,
            created_by=row.created_by,
            created_at=row.created_at,
        )
