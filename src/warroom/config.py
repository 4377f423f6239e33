"""Settings (environment) and the organisation's configuration (`warroom.yaml`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warroom.core.errors import ConfigError
from warroom.detection.integrations import IntegrationsConfig
from warroom.detection.routing import (
    DetectionConfig,
    RouteConfig,
    check_detection,
    check_routes,
)
from warroom.escalation.checks import check_escalation
from warroom.escalation.config import EscalationPolicy, NotificationRules, builtin_policy
from warroom.mitigation.actions import ActionList
from warroom.mitigation.verification_config import VerificationConfig, check_severity_lists
from warroom.oncall.models import Schedule
from warroom.organisation import PersonConfig, TeamConfig, check_people
from warroom.postmortem.config import PostmortemConfig
from warroom.status.config import StatusPageConfig, check_status_page

SEVERITY_PATTERN = re.compile(r"^SEV-[1-9]$")


class Settings(BaseSettings):
    """Process settings from `WARROOM_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="WARROOM_", extra="ignore")

    config: Path | None = None
    data_dir: Path = Path("./var")
    database_url: str | None = None
    runbooks_dir: Path = Path("./docs/runbooks")
    log_format: str = "text"
    log_level: str = "INFO"

    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite in the data directory."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'warroom.db').resolve()}"

    def config_path(self) -> Path | None:
        """Return the YAML file to read: WARROOM_CONFIG, else ./warroom.yaml if present."""
        if self.config is not None:
            return self.config
        default = Path("warroom.yaml")
        return default if default.exists() else None


def normalise_database_url(url: str) -> str:
    """Make plain `postgresql://` URLs use psycopg 3, the driver we ship."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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


class ServiceConfig(BaseModel):
    """A service incidents can be about: who owns it, who is on call, which runbook."""

    model_config = ConfigDict(extra="allow")

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
        ),
    ]


class WarroomConfig(BaseModel):
    """The organisation, as written in `warroom.yaml`."""

    model_config = ConfigDict(extra="allow")

    severities: dict[str, SeverityConfig] = Field(default_factory=default_severities)
    priorities: list[str] = Field(default_factory=lambda: ["P1", "P2", "P3", "P4"])
    incident_types: list[IncidentTypeConfig] = Field(default_factory=default_incident_types)
    services: list[ServiceConfig] = Field(default_factory=list)
    people: list[PersonConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    schedules: list[Schedule] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    integrations: IntegrationsConfig = Field(default_factory=IntegrationsConfig)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    _services: dict[str, ServiceConfig] | None = PrivateAttr(default=None)
    _people: dict[str, PersonConfig] | None = PrivateAttr(default=None)
    notifications: NotificationRules = Field(default_factory=NotificationRules)
    status_page: StatusPageConfig = Field(default_factory=StatusPageConfig)
    actions: ActionList = Field(default_factory=list)  # docs/mitigation.md
    postmortem: PostmortemConfig = Field(default_factory=PostmortemConfig)  # docs/postmortem.md
    verification: VerificationConfig = Field(default_factory=VerificationConfig)  # mitigation

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

    def person(self, person_id: str) -> PersonConfig | None:
        """Return the person with this id, if configured."""
        if self._people is None:
            self._people = {p.id: p for p in self.people}
        return self._people.get(person_id)

    def team(self, team_id: str) -> TeamConfig | None:
        """Return the team with this id, if configured."""
        return next((t for t in self.teams if t.id == team_id), None)


def load_config(path: Path | None) -> WarroomConfig:
    """Read and validate `warroom.yaml`; errors name the file, line and field."""
    if path is None:
        return WarroomConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}:{line}: invalid YAML: {problem}"]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: the top level must be a mapping of sections"])
    lines = _line_index(node)
    try:
        config = WarroomConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(part) for part in loc) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{_nearest_line(lines, loc)}: {field}: {message}")
        raise ConfigError(problems) from exc
    problems = _cross_check(config, lines, path)
    if problems:
        raise ConfigError(problems)
    return config


def _cross_check(config: WarroomConfig, lines: dict[tuple[Any, ...], int], path: Path) -> list[str]:
    """Check references between sections (a type naming an unknown severity, …)."""
    problems = []
    loc: tuple[Any, ...]
    for index, item in enumerate(config.incident_types):
        if item.default_severity and item.default_severity not in config.severities:
            loc = ("incident_types", index, "default_severity")
            problems.append(
                f"{path}:{_nearest_line(lines, loc)}: incident_types.{index}.default_severity: "
                f"unknown severity {item.default_severity!r}; known: "
                + ", ".join(config.severities)
            )
    for index, message in check_routes(config.routes, list(config.severities)):
        loc = ("routes", index)
        problems.append(f"{path}:{_nearest_line(lines, loc)}: routes.{index}: {message}")
    for loc, message in [
        *check_people(config.people, config.teams),
        *check_status_page(config.status_page, [s.id for s in config.services]),
        *check_escalation(config),
        *check_severity_lists(config),
    ]:
        dotted = ".".join(str(part) for part in loc)
        problems.append(f"{path}:{_nearest_line(lines, loc)}: {dotted}: {message}")
    problems += _check_schedules(config, lines, path)
    for index, service in enumerate(config.services):
        if service.schedule and not config.has_schedule(service.schedule):
            loc = ("services", index, "schedule")
            problems.append(
                f"{path}:{_nearest_line(lines, loc)}: services.{index}.schedule: "
                f"unknown schedule {service.schedule!r}"
            )
        if service.team and config.team(service.team) is None:
            loc = ("services", index, "team")
            problems.append(
                f"{path}:{_nearest_line(lines, loc)}: services.{index}.team: "
                f"unknown team {service.team!r}"
            )
    for message in check_detection(config.detection, list(config.severities)):
        problems.append(f"{path}:{_nearest_line(lines, ('detection',))}: detection: {message}")
    for index, route in enumerate(config.routes):
        loc = ("routes", index)
        if route.service and config.services and config.service(route.service) is None:
            problems.append(
                f"{path}:{_nearest_line(lines, (*loc, 'service'))}: routes.{index}.service: "
                f"unknown service {route.service!r}"
            )
        if route.incident_type and config.incident_type(route.incident_type) is None:
            problems.append(
                f"{path}:{_nearest_line(lines, (*loc, 'incident_type'))}: "
                f"routes.{index}.incident_type: unknown incident type {route.incident_type!r}"
            )
    return problems


def config_warnings(config: WarroomConfig) -> list[str]:
    """Return settings that are valid but cannot work as meant (what `config check` warns of)."""
    found = []
    integrations, rules = config.integrations, config.notifications
    if rules.executives and integrations.smtp is None:
        found.append(
            "notifications.executives is set but integrations.smtp is not: executive "
            "summaries are not sent"
        )
    slack = integrations.slack
    ways = {
        "chat": slack is not None and slack.bot_token is not None,  # else Slack is intake-only
        "email": integrations.smtp is not None,
    }
    usable = [way for way in rules.page_via if ways.get(way, True)]
    if rules.page_via and not usable:
        found.append(
            f"notifications.page_via is {', '.join(rules.page_via)} but neither "
            "integrations.slack.bot_token nor integrations.smtp is configured: pages reach no one "
            "(the escalation still runs and shows on each incident)"
        )
    return found


def _check_schedules(
    config: WarroomConfig, lines: dict[tuple[Any, ...], int], path: Path
) -> list[str]:
    """Every rotation participant must be a configured person; schedule ids are unique."""
    problems = []
    known = {p.id for p in config.people}
    seen: set[str] = set()
    for s_index, schedule in enumerate(config.schedules):
        if schedule.id in seen:
            loc: tuple[Any, ...] = ("schedules", s_index, "id")
            problems.append(
                f"{path}:{_nearest_line(lines, loc)}: schedules.{s_index}.id: "
                f"schedule {schedule.id!r} is defined twice"
            )
        seen.add(schedule.id)
        for l_index, layer in enumerate(schedule.layers):
            for p_index, person in enumerate(layer.rotation.participants):
                if person not in known:
                    loc = (
                        "schedules",
                        s_index,
                        "layers",
                        l_index,
                        "rotation",
                        "participants",
                        p_index,
                    )
                    where = ".".join(str(part) for part in loc)
                    problems.append(
                        f"{path}:{_nearest_line(lines, loc)}: {where}: "
                        f"unknown person {person!r} (add it under people:)"
                    )
    source = config.integrations.pagerduty_oncall
    if source is not None:
        base = ("integrations", "pagerduty_oncall")
        for pd_user, person in source.people.items():
            if person not in known:
                loc = (*base, "people", pd_user)
                problems.append(
                    f"{path}:{_nearest_line(lines, loc)}: "
                    f"integrations.pagerduty_oncall.people.{pd_user}: "
                    f"unknown person {person!r}"
                )
        for schedule_id in source.schedules:
            if schedule_id in seen:
                loc = (*base, "schedules", schedule_id)
                problems.append(
                    f"{path}:{_nearest_line(lines, loc)}: "
                    f"integrations.pagerduty_oncall.schedules.{schedule_id}: "
                    "also defined under schedules:; keep one"
                )
    return problems


def _line_index(node: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Map each key path in the YAML document to its 1-based line number."""
    index: dict[tuple[Any, ...], int] = {}

    def walk(current: yaml.Node, path: tuple[Any, ...]) -> None:
        index[path] = current.start_mark.line + 1
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                key = key_node.value
                index[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(current, yaml.SequenceNode):
            for position, item in enumerate(current.value):
                walk(item, (*path, position))

    if node is not None:
        walk(node, ())
    return index


def _nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    """Return the line of the deepest part of `loc` that exists in the document."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return 1


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the given environment (the process's by default)."""
    if environ is None:
        return Settings()
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(environ)
        return Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
