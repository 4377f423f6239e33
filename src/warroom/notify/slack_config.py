"""Slack's settings (`integrations.slack`): pydantic only, so reading them loads no Slack client."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from warroom.secrets import Secret

_CHANNEL = re.compile(r"#[a-z0-9_-]{1,80}|[CG][A-Z0-9]{2,}")

_PREFIX = r"^[a-z0-9][a-z0-9_-]{0,19}$"


class SlackConfig(BaseModel):
    """`integrations.slack`: the app's signing secret, and its bot token for notifications."""

    # A rejected token must not be echoed back by str(ValidationError).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    signing_secret: Secret
    bot_token: Secret | None = None  # without it Slack is intake-only
    channel: str = "#incident-response"
    base_url: str = "https://slack.com/api/"
    timeout: float = Field(default=10.0, gt=0, le=120)
    channel_prefix: str = Field(default="inc", pattern=_PREFIX)

    @field_validator("bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        # A signing secret or user token pasted here would only fail later, on every message.
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be the app's Bot User OAuth Token, which starts with xoxb-")
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if not _CHANNEL.fullmatch(value):
            raise ValueError(
                "use a channel name like #incident-response (lowercase a-z, 0-9, - and _) "
                "or a channel id like C0123ABCD"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"
