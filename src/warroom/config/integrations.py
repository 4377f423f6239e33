"""The `integrations:` section: intake integrations and every vendor's settings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warroom.detection.config import GrafanaIntegration, HmacIntegration, TokenIntegration
from warroom.notify.jira_config import JiraIssuesConfig
from warroom.notify.pagerduty_config import PagerDutyEventsConfig
from warroom.notify.push_config import PushConfig
from warroom.notify.slack_config import SlackConfig
from warroom.notify.smtp_config import SmtpConfig
from warroom.notify.statuspage_config import StatuspageConfig
from warroom.notify.twilio_config import TwilioConfig
from warroom.notify.webhook_config import OutgoingWebhooks
from warroom.notify.zoom_config import ZoomConfig
from warroom.oncall.pagerduty_config import PagerDutyOnCallConfig


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
    twilio: TwilioConfig | None = None  # pages by SMS and voice call
    push: PushConfig | None = None  # pages by push (apprise URLs): `push: {}` turns it on

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
