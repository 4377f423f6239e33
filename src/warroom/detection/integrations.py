"""Configuration of the intake integrations (`integrations:` in warroom.yaml)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warroom.notify.jira import JiraIssuesConfig
from warroom.notify.pagerduty import PagerDutyEventsConfig
from warroom.notify.slack import SlackConfig
from warroom.notify.smtp import SmtpConfig
from warroom.notify.statuspage import StatuspageConfig
from warroom.notify.webhook import OutgoingWebhooks
from warroom.notify.zoom import ZoomConfig
from warroom.oncall.pagerduty import PagerDutyOnCallConfig
from warroom.secrets import Secret

NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class TokenIntegration(BaseModel):
    """An intake authenticated by a bearer token (Alertmanager, the generic webhook)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    token: Secret


class HmacIntegration(BaseModel):
    """An intake authenticated by an HMAC signature; several secrets allow rotation."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME)
    secret: Secret | None = None
    secrets: list[Secret] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_or_more(self) -> HmacIntegration:
        if self.secret is not None:
            self.secrets = [self.secret, *self.secrets]
        if not self.secrets:
            raise ValueError("give `secret` (or `secrets` while rotating)")
        return self

    def secret_values(self) -> list[str]:
        """Return the plain secrets, newest first as written."""
        return [s.get_secret_value() for s in self.secrets]


class GrafanaIntegration(HmacIntegration):
    """Grafana's webhook contact point: the header names are set in Grafana's HMAC settings."""

    signature_header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str | None = Field(
        default="X-Grafana-Alerting-Timestamp",
        description="Grafana signs 'timestamp:body' when a timestamp header is configured.",
    )


class IntegrationsConfig(BaseModel):
    """Every integration; an empty list means that intake answers 404."""

    model_config = ConfigDict(extra="forbid")

    alertmanager: list[TokenIntegration] = Field(default_factory=list)
    webhook: list[TokenIntegration] = Field(default_factory=list)
    grafana: list[GrafanaIntegration] = Field(default_factory=list)
    pagerduty: list[HmacIntegration] = Field(default_factory=list)
    jira: list[HmacIntegration] = Field(default_factory=list)
    slack: SlackConfig | None = None
    pagerduty_oncall: PagerDutyOnCallConfig | None = None  # schedules that live in PagerDuty
    # Outgoing: notifications (notify/)
    smtp: SmtpConfig | None = None
    zoom: ZoomConfig | None = None
    pagerduty_events: PagerDutyEventsConfig | None = None
    statuspage: StatuspageConfig | None = None
    outgoing_webhooks: OutgoingWebhooks = Field(default_factory=list)
    jira_issues: JiraIssuesConfig | None = None  # postmortem action items as Jira issues

    @model_validator(mode="after")
    def _unique_names(self) -> IntegrationsConfig:
        for kind in ("alertmanager", "webhook", "grafana", "pagerduty", "jira"):
            names = [i.name for i in getattr(self, kind)]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{kind}: integration name {duplicates[0]!r} is used twice")
        return self

    def configured(self, kind: str) -> list[Any]:
        """Return the configured instances of one intake kind."""
        value = getattr(self, kind, None)
        if value is None:
            return []
        return value if isinstance(value, list) else [value]
