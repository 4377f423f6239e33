"""PagerDuty Events settings (`integrations.pagerduty_events`): pydantic only."""

from __future__ import annotations

import logging
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.urls import vendor_url
from warroom.secrets import Secret

log = logging.getLogger("warroom.notify")

DEFAULT_URL = "https://events.pagerduty.com"

PagerDutySeverity = Literal["critical", "error", "warning", "info"]

PD_SEVERITIES: tuple[str, ...] = get_args(PagerDutySeverity)

ROUTING_KEY_LENGTH = 32

FALLBACK_SEVERITY = "error"


def _default_severity_map() -> dict[str, PagerDutySeverity]:
    return {"SEV-1": "critical", "SEV-2": "error", "SEV-3": "warning", "SEV-4": "info"}


class PagerDutyEventsConfig(BaseModel):
    """`integrations.pagerduty_events` in warroom.yaml: which PagerDuty service warroom pages."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # secrets stay out

    routing_key: Secret
    url: str = DEFAULT_URL
    timeout: float = Field(default=10.0, gt=0, le=60)
    severity_map: dict[str, PagerDutySeverity] = Field(default_factory=_default_severity_map)
    severities: list[str] | None = None  # warroom severities that page; None: all of them
    source: str = Field(default="warroom", min_length=1, max_length=255)
    client_url: str | None = None  # warroom's own address, shown as the alert's client link

    @field_validator("routing_key")
    @classmethod
    def _routing_key(cls, value: Any) -> Any:
        # The message must not quote the value: config errors are printed and logged.
        if len(value.get_secret_value()) != ROUTING_KEY_LENGTH:
            raise ValueError(
                f"routing_key must be the {ROUTING_KEY_LENGTH}-character integration key of an "
                "Events API v2 integration"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        vendor_url(value, "url")
        return value.rstrip("/")

    def sends(self, severity: str) -> bool:
        """Return whether incidents of this warroom severity page through PagerDuty."""
        return self.severities is None or severity in self.severities

    def pd_severity(self, severity: str) -> str:
        """Return PagerDuty's severity for a warroom one (PagerDuty's own names pass through)."""
        if severity in self.severity_map:
            return self.severity_map[severity]
        if severity in PD_SEVERITIES:
            return severity
        log.warning("no PagerDuty severity for %r; sending %r", severity, FALLBACK_SEVERITY)
        return FALLBACK_SEVERITY
