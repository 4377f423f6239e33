"""The organisation as written in warroom.yaml: one model composed of each phase's section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from warroom.auth.config import AuthConfig
from warroom.config.integrations import IntegrationsConfig
from warroom.config.retention import RetentionConfig
from warroom.config.server import ServerConfig
from warroom.detection.heartbeat_config import HeartbeatConfig
from warroom.detection.routing import DetectionConfig, RouteConfig
from warroom.drills.config import DrillsConfig
from warroom.escalation.config import EscalationPolicy, NotificationRules, builtin_policy
from warroom.incidents.config import (
    SEVERITY_PATTERN,
    IncidentTypeConfig,
    ServiceConfig,
    SeverityConfig,
    default_incident_types,
    default_severities,
)
from warroom.mitigation.actions import ActionList
from warroom.mitigation.config import VerificationConfig
from warroom.oncall.config import Schedule
from warroom.organisation import PersonConfig, TeamConfig
from warroom.postmortem.config import PostmortemConfig
from warroom.status.config import StatusPageConfig


class WarroomConfig(BaseModel):
    """The organisation, as written in `warroom.yaml`."""

    model_config = ConfigDict(extra="forbid")  # a misspelt section must not vanish silently

    severities: dict[str, SeverityConfig] = Field(default_factory=default_severities)
    priorities: list[str] = Field(default_factory=lambda: ["P1", "P2", "P3", "P4"])
    incident_types: list[IncidentTypeConfig] = Field(default_factory=default_incident_types)
    services: list[ServiceConfig] = Field(default_factory=list)
    people: list[PersonConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    heartbeats: list[HeartbeatConfig] = Field(default_factory=list)  # docs/heartbeats.md
    integrations: IntegrationsConfig = Field(default_factory=IntegrationsConfig)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    _services: dict[str, ServiceConfig] | None = PrivateAttr(default=None)
    _people: dict[str, PersonConfig] | None = PrivateAttr(default=None)
    _heartbeats: dict[str, HeartbeatConfig] | None = PrivateAttr(default=None)
    notifications: NotificationRules = Field(default_factory=NotificationRules)
    status_page: StatusPageConfig = Field(default_factory=StatusPageConfig)
    actions: ActionList = Field(default_factory=list)  # docs/mitigation.md
    postmortem: PostmortemConfig = Field(default_factory=PostmortemConfig)  # docs/postmortem.md
    verification: VerificationConfig = Field(default_factory=VerificationConfig)  # mitigation
    auth: AuthConfig = Field(default_factory=AuthConfig)  # docs/security.md
    server: ServerConfig = Field(default_factory=ServerConfig)  # docs/configuration.md
    drills: DrillsConfig = Field(default_factory=DrillsConfig)  # docs/drills.md
    retention: RetentionConfig = Field(default_factory=RetentionConfig)  # docs/operations.md

    @field_validator("severities")
    @classmethod
    def _severity_keys(cls, value: dict[str, SeverityConfig]) -> dict[str, SeverityConfig]:
        if not value:
            raise ValueError("at least one severity is needed")
        for key in value:
            if not SEVERITY_PATTERN.match(key):
                raise ValueError(f"severity {key!r} must look like SEV-1 … SEV-9")
        return dict(sorted(value.items()))

    @field_validator("incident_types")
    @classmethod
    def _unique_types(cls, value: list[IncidentTypeConfig]) -> list[IncidentTypeConfig]:
        seen: set[str] = set()
        for item in value:
            if item.id in seen:
                raise ValueError(f"incident type {item.id!r} is defined twice")
            seen.add(item.id)
        return value

    def incident_type(self, type_id: str) -> IncidentTypeConfig | None:
        """Return the incident type with this id, if configured."""
        return next((t for t in self.incident_types if t.id == type_id), None)

    def service(self, service_id: str) -> ServiceConfig | None:
        """Return the service with this id, if configured."""
        if self._services is None:  # the engine asks thousands of times a tick
            self._services = {s.id: s for s in self.services}
        return self._services.get(service_id)

    def pagerduty_schedules(self) -> list[str]:
        """Return the ids of schedules that live in PagerDuty."""
        source = self.integrations.pagerduty_oncall
        return list(source.schedules) if source is not None else []

    def has_schedule(self, schedule_id: str) -> bool:
        """Tell whether a schedule is configured here or in PagerDuty."""
        return schedule_id in self.pagerduty_schedules() or any(
            s.id == schedule_id for s in self.schedules
        )

    def escalation_policy(self, service_id: str | None) -> EscalationPolicy:
        """Return the policy for a service: its own, else the default, else the built-in one."""
        service = self.service(service_id) if service_id else None
        wanted = (service.escalation if service else None) or self.notifications.default_policy
        found = next((p for p in self.escalation_policies if p.id == wanted), None)
        return found or builtin_policy()

    def heartbeat(self, heartbeat_id: str) -> HeartbeatConfig | None:
        """Return the heartbeat with this id, if configured."""
        if self._heartbeats is None:  # a ping asks, and there may be thousands
            self._heartbeats = {h.id: h for h in self.heartbeats}
        return self._heartbeats.get(heartbeat_id)

    def person(self, person_id: str) -> PersonConfig | None:
        """Return the person with this id, if configured."""
        if self._people is None:
            self._people = {p.id: p for p in self.people}
        return self._people.get(person_id)

    def team(self, team_id: str) -> TeamConfig | None:
        """Return the team with this id, if configured."""
        return next((t for t in self.teams if t.id == team_id), None)
