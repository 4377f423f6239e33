"""Heartbeats (`heartbeats:` in warroom.yaml): pings expected from a pipeline that must not die."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.durations import Duration
from warroom.secrets import Secret

HEARTBEAT_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
INTERVAL_MIN = timedelta(seconds=5)  # the engine ticks every second; less is noise
INTERVAL_MAX = timedelta(days=7)


class HeartbeatConfig(BaseModel):
    """One expected ping: silent past `interval` + `grace`, it opens an incident on `service`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(
        pattern=HEARTBEAT_ID,
        description="Names the heartbeat in the ping URL (`/api/v1/intake/heartbeat/ID`), "
        "in routes (`heartbeat: ID`) and in metrics.",
    )
    service: str = Field(
        min_length=1, description="The service whose incident opens when the pings stop."
    )
    interval: Duration = Field(description="How often the sender pings (e.g. 1m).")
    grace: Duration = Field(
        default=timedelta(0),
        description="Extra time past `interval` before a missing ping counts (e.g. 30s).",
    )
    severity: str = Field(
        default="SEV-2", pattern=r"^SEV-[1-9]$", description="The severity of its incident."
    )
    incident_type: str | None = Field(
        default=None,
        min_length=1,
        description="The incident type of its incident (a restricted type restricts it); "
        "default: the default type.",
    )
    title: str | None = Field(
        default=None,
        max_length=200,
        description="The incident's title; default: `Heartbeat ID stopped (SERVICE)`.",
    )
    token: Secret | None = Field(
        default=None,
        description="Bearer token of its ping URL (`env:NAME` or `file:/PATH` too). "
        "Without one it takes pings only through a route with `heartbeat: ID`.",
    )

    @field_validator("interval")
    @classmethod
    def _interval_range(cls, value: timedelta) -> timedelta:
        if not INTERVAL_MIN <= value <= INTERVAL_MAX:
            raise ValueError("the interval must be between 5s and 7d")
        return value

    @field_validator("grace")
    @classmethod
    def _grace_range(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= INTERVAL_MAX:
            raise ValueError("the grace must be between 0s and 7d")
        return value

    @property
    def timeout(self) -> timedelta:
        """How long after a ping the heartbeat counts as silent."""
        return self.interval + self.grace

    def incident_title(self) -> str:
        """Return the title of the incident its silence opens."""
        return self.title or f"Heartbeat {self.id} stopped ({self.service})"


def check_heartbeats(
    heartbeats: list[HeartbeatConfig],
    *,
    services: Collection[str],
    severities: Collection[str],
    incident_types: Collection[str],
) -> list[tuple[tuple[Any, ...], str]]:
    """Return (location, message) for duplicate ids, unknown services and severities."""
    found: list[tuple[tuple[Any, ...], str]] = []
    seen: set[str] = set()
    for index, beat in enumerate(heartbeats):
        if beat.id in seen:
            found.append((("heartbeats", index, "id"), f"heartbeat {beat.id!r} is defined twice"))
        seen.add(beat.id)
        if beat.service not in services:
            known = ", ".join(sorted(services)) or "none (add it under services:)"
            found.append(
                (
                    ("heartbeats", index, "service"),
                    f"unknown service {beat.service!r}; known: {known}",
                )
            )
        if beat.severity not in severities:
            found.append(
                (
                    ("heartbeats", index, "severity"),
                    f"unknown severity {beat.severity!r}; known: {', '.join(severities)}",
                )
            )
        if beat.incident_type is not None and beat.incident_type not in incident_types:
            found.append(
                (
                    ("heartbeats", index, "incident_type"),
                    f"unknown incident type {beat.incident_type!r}; "
                    f"known: {', '.join(incident_types)}",
                )
            )
    return found
