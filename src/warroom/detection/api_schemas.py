"""Request and response shapes of the alert, silence, report, intake and heartbeat routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from warroom.core.durations import format_duration
from warroom.core.types import Reason
from warroom.detection.heartbeats import HeartbeatStatus, Pinged
from warroom.detection.models import Alert, Silence
from warroom.detection.schemas import IngestResult
from warroom.incidents.schemas import Input


class IntakeResponse(BaseModel):
    """What a delivery did."""

    accepted: int
    new: int
    repeated: int
    resolved: int
    silenced: int
    dropped: int
    ignored: int
    pinged: int = Field(default=0, description="Alerts a route turned into heartbeat pings.")
    incidents_opened: list[str]
    incidents_updated: list[str]
    duplicate: bool = Field(
        default=False,
        description="The delivery's id was seen before (a replay or a retry): nothing changed.",
    )

    @classmethod
    def of(cls, result: IngestResult) -> IntakeResponse:
        """Build from an ingest result."""
        return cls(
            accepted=result.accepted,
            new=result.new,
            repeated=result.repeated,
            resolved=result.resolved,
            silenced=result.silenced,
            dropped=result.dropped,
            ignored=result.ignored,
            pinged=result.pinged,
            incidents_opened=[f"INC-{n}" for n in result.opened],
            incidents_updated=[f"INC-{n}" for n in result.linked if n not in result.opened],
            duplicate=result.duplicate,
        )


class SilenceCreate(Input):
    """A maintenance window: matching alerts are stored but open no incident."""

    matchers: list[str] = Field(min_length=1, max_length=20, examples=[['service="checkout"']])
    starts_at: datetime | None = Field(default=None, description="Default: now.")
    ends_at: datetime | None = Field(default=None, description="Give this or duration_minutes.")
    duration_minutes: int | None = Field(default=None, ge=1, le=527_040)
    comment: Annotated[Reason, Field(min_length=1)]


class SilenceOut(BaseModel):
    """A silence and its state now."""

    id: int
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str | None
    created_at: datetime
    expired_by: str | None
    state: str

    @classmethod
    def of(cls, silence: Silence, state: str) -> SilenceOut:
        """Build from the model."""
        return cls(
            id=silence.id,
            matchers=list(silence.matchers),
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            comment=silence.comment,
            created_by=silence.created_by,
            created_at=silence.created_at,
            expired_by=silence.expired_by,
            state=state,
        )


class AlertOut(BaseModel):
    """A stored alert."""

    id: int
    source: str
    integration: str
    kind: str
    fingerprint: str
    status: str
    title: str
    severity: str | None
    labels: dict[str, Any]
    annotations: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str | None
    received_at: datetime
    last_seen_at: datetime
    seen_count: int
    incident: str | None
    silence_id: int | None

    @classmethod
    def of(cls, alert: Alert, incident_number: int | None) -> AlertOut:
        """Build from the model and its incident's number."""
        return cls(
            id=alert.id,
            source=alert.source,
            integration=alert.integration,
            kind=alert.kind,
            fingerprint=alert.fingerprint,
            status=alert.status,
            title=alert.title,
            severity=alert.severity,
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            generator_url=alert.generator_url,
            received_at=alert.received_at,
            last_seen_at=alert.last_seen_at,
            seen_count=alert.seen_count,
            incident=f"INC-{incident_number}" if incident_number else None,
            silence_id=alert.silence_id,
        )


class AlertPage(BaseModel):
    """A page of alerts, newest first."""

    items: list[AlertOut]
    next_cursor: str | None


class HeartbeatOut(BaseModel):
    """A configured heartbeat and its state now."""

    id: str
    service: str
    interval: str = Field(description="How often it pings, as warroom.yaml writes it (1m).")
    grace: str
    severity: str
    state: str = Field(description="waiting (no ping yet), up, down, or recovering.")
    last_seen_at: datetime | None
    seconds_since_ping: float | None
    due_at: datetime | None = Field(description="When it counts as silent without a ping.")
    pings: int
    incident: str | None = Field(description="The incident its silence opened, while open.")

    @classmethod
    def of(cls, beat: HeartbeatStatus, now: datetime) -> HeartbeatOut:
        """Build from a heartbeat's status at `now`."""
        since = beat.seconds_since(now)
        return cls(
            id=beat.id,
            service=beat.service,
            interval=format_duration(beat.interval),
            grace=format_duration(beat.grace),
            severity=beat.severity,
            state=beat.state,
            last_seen_at=beat.last_seen_at,
            seconds_since_ping=round(since, 3) if since is not None else None,
            due_at=beat.due_at,
            pings=beat.pings,
            incident=f"INC-{beat.incident}" if beat.incident else None,
        )


class PingOut(BaseModel):
    """What a heartbeat's ping did."""

    heartbeat: str
    state: str = Field(description="up, or recovering inside the verification window.")
    incident: str | None = Field(description="The incident the ping ended or mitigated.")
    resolved: bool = Field(description="The ping resolved that incident.")

    @classmethod
    def of(cls, pinged: Pinged) -> PingOut:
        """Build from what the ping did."""
        return cls(
            heartbeat=pinged.heartbeat,
            state=pinged.state,
            incident=f"INC-{pinged.incident}" if pinged.incident else None,
            resolved=pinged.resolved,
        )
