"""Configuration of the intake integrations (`integrations:` in warroom.yaml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

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
    require_timestamp: bool = Field(
        default=False,
        description="Refuse a delivery without the signed timestamp header: without it a "
        "captured body and signature can be replayed at any time. Off by default because "
        "Grafana sends no timestamp until its contact point names the header.",
    )

    @model_validator(mode="after")
    def _timestamp_named(self) -> GrafanaIntegration:
        if self.require_timestamp and not self.timestamp_header:
            raise ValueError("require_timestamp needs timestamp_header (the header Grafana sets)")
        return self
