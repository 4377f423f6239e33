"""Twilio settings (`integrations.twilio`): text messages and voice calls. Pydantic only."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.core.durations import Duration
from warroom.core.urls import vendor_url
from warroom.secrets import Secret

DEFAULT_API_URL = "https://api.twilio.com"
E164 = r"^\+[1-9][0-9]{6,14}$"


class ChannelRate(BaseModel):
    """At most `count` requests per `per` on one channel, for the whole account."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1)
    per: Duration = timedelta(seconds=1)


class TwilioConfig(BaseModel):
    """`integrations.twilio` in warroom.yaml: the account that sends pages by SMS and voice."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: Secret  # also checks X-Twilio-Signature on Twilio's callbacks and replies
    from_: str | None = Field(default=None, alias="from", pattern=E164)
    messaging_service_sid: str | None = Field(default=None, pattern=r"^MG[0-9a-fA-F]{32}$")
    api_url: str = DEFAULT_API_URL  # a loopback server in tests; Twilio's own otherwise
    timeout: float = Field(default=10.0, gt=0, le=60)
    # Twilio queues what exceeds an account's limits, but a long code sends about one SMS a
    # second: without a limit here, 1,000 pages would sit in Twilio's queue for minutes.
    sms_rate: ChannelRate | None = None
    voice_rate: ChannelRate | None = None
    voice: str = "Polly.Joanna"  # the <Say> voice
    language: str = "en-US"

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        vendor_url(value, "api_url")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _sender(self) -> TwilioConfig:
        if self.from_ is None and self.messaging_service_sid is None:
            raise ValueError(
                "integrations.twilio needs `from` (a Twilio number, +E.164) or "
                "messaging_service_sid to send from"
            )
        return self
