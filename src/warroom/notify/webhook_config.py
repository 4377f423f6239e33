"""Outgoing webhook settings (`integrations.outgoing_webhooks`): pydantic only."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from warroom.secrets import Secret

WebhookEvent = Literal[
    "incident.declared",
    "incident.acknowledged",
    "incident.triaged",
    "incident.severity_changed",
    "incident.commander_changed",
    "incident.mitigated",
    "incident.resolved",
    "incident.closed",
    "incident.reopened",
    "incident.status_update",
]

EVENTS: tuple[WebhookEvent, ...] = get_args(WebhookEvent)

MIN_SECRET_LENGTH = 16

NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class WebhookConfig(BaseModel):
    """One entry of `integrations.outgoing_webhooks` in warroom.yaml."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)  # secrets stay out

    name: str = Field(pattern=NAME)
    url: str
    secret: Secret
    events: list[WebhookEvent] = Field(default_factory=lambda: list(EVENTS), min_length=1)
    timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http:// or https:// URL with a host")
        return value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: Any) -> Any:
        # The message must not quote the value: config errors are printed and logged.
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret must be at least {MIN_SECRET_LENGTH} characters (openssl rand -hex 32)"
            )
        return value

    def wants(self, event: str) -> bool:
        """Return whether this endpoint subscribed to `event`."""
        return event in self.events


def _unique_names(value: list[WebhookConfig]) -> list[WebhookConfig]:
    names = [w.name for w in value]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"outgoing webhook name {duplicates[0]!r} is used twice")
    return value


OutgoingWebhooks = Annotated[list[WebhookConfig], AfterValidator(_unique_names)]
