"""What an incident can be: severities, incident types and services (sections of warroom.yaml)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

SEVERITY_PATTERN = re.compile(r"^SEV-[1-9]$")


class SeverityConfig(BaseModel):
    """One severity level and what it means to responders."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    page: bool = False
    exec_email: bool = False
    postmortem_required: bool = False


class IncidentTypeConfig(BaseModel):
    """A kind of incident and the runbook template it starts from."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str | None = None
    template: str | None = None
    default_severity: str | None = None
    restricted: bool = False
    # Teams whose members see every restricted incident of this type (security, say).
    access_teams: list[str] = Field(default_factory=list)


class ServiceConfig(BaseModel):
    """A service incidents can be about: who owns it, who is on call, which runbook."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str | None = None
    runbook: str | None = None
    team: str | None = None
    schedule: str | None = None
    escalation: str | None = None  # an escalation policy id


def default_severities() -> dict[str, SeverityConfig]:
    """Return the runbook's four severity levels."""
    return {
        "SEV-1": SeverityConfig(
            name="Critical",
            description="System-wide outage, data loss, security breach.",
            page=True,
            exec_email=True,
            postmortem_required=True,
        ),
        "SEV-2": SeverityConfig(
            name="High",
            description="Major functionality impaired, significant performance degradation.",
            page=True,
            exec_email=True,
            postmortem_required=True,
        ),
        "SEV-3": SeverityConfig(
            name="Medium", description="Minor functionality impaired, localized performance issues."
        ),
        "SEV-4": SeverityConfig(name="Low", description="Cosmetic issues, documentation errors."),
    }


def default_incident_types() -> list[IncidentTypeConfig]:
    """Return the incident types the shipped templates cover."""
    return [
        IncidentTypeConfig(id="default", name="General", template="generic"),
        IncidentTypeConfig(
            id="resource-saturation", name="Resource saturation", template="resource-saturation"
        ),
        IncidentTypeConfig(
            id="security",
            name="Security / data breach",
            template="security-breach",
            default_severity="SEV-1",
            restricted=True,
            access_teams=["security"],
        ),
    ]
