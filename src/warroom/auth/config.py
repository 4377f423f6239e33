"""The `auth:` section of warroom.yaml: browser sessions and sign-in throttling."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from warroom.auth.oidc_config import OidcConfig
from warroom.core.durations import Duration


class SessionsConfig(BaseModel):
    """How long a browser session lasts and how its cookie is sent."""

    model_config = ConfigDict(extra="forbid")

    idle_timeout: Duration = Field(
        default=timedelta(hours=12), description="A session unused this long ends."
    )
    absolute_timeout: Duration = Field(
        default=timedelta(days=7), description="A session ends this long after sign-in."
    )
    secure_cookie: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="auto: Secure when notifications.base_url or the request is https.",
    )

    @model_validator(mode="after")
    def _ranges(self) -> SessionsConfig:
        if not timedelta(minutes=1) <= self.idle_timeout <= timedelta(days=30):
            raise ValueError("idle_timeout must be between 1m and 30d")
        if not timedelta(minutes=1) <= self.absolute_timeout <= timedelta(days=90):
            raise ValueError("absolute_timeout must be between 1m and 90d")
        if self.idle_timeout > self.absolute_timeout:
            raise ValueError("idle_timeout cannot be longer than absolute_timeout")
        return self


class FailureLimit(BaseModel):
    """At most `count` failed sign-ins within `window`."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=1, le=10_000)
    window: Duration

    @model_validator(mode="after")
    def _window_range(self) -> FailureLimit:
        if not timedelta(seconds=1) <= self.window <= timedelta(days=1):
            raise ValueError("window must be between 1s and 1d")
        return self


class SignInConfig(BaseModel):
    """Throttling of failed sign-ins, per account name and per client address."""

    model_config = ConfigDict(extra="forbid")

    per_account: FailureLimit = Field(
        default_factory=lambda: FailureLimit(count=5, window=timedelta(minutes=15))
    )
    per_address: FailureLimit = Field(
        default_factory=lambda: FailureLimit(count=20, window=timedelta(minutes=15))
    )


class AuthConfig(BaseModel):
    """Browser sign-in: sessions, throttling, password and single sign-on (docs/security.md)."""

    model_config = ConfigDict(extra="forbid")

    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    sign_in: SignInConfig = Field(default_factory=SignInConfig)
    password_sign_in: bool = Field(
        default=True, description="false: browsers sign in with single sign-on only."
    )
    oidc: OidcConfig | None = None

    @model_validator(mode="after")
    def _someone_can_sign_in(self) -> AuthConfig:
        if not self.password_sign_in and self.oidc is None:
            raise ValueError(
                "password_sign_in: false needs auth.oidc (otherwise no browser can sign in)"
            )
        return self
