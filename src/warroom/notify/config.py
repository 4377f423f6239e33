"""How the outbox retries and paces its sends (`notifications.retry` and `rate_limits`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from warroom.core.durations import Duration


class RetryConfig(BaseModel):
    """How the outbox retries a failed send: exponential backoff with jitter."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=10, ge=1, le=100)
    base: Duration = timedelta(seconds=2)
    max: Duration = timedelta(minutes=10)


class RateLimit(BaseModel):
    """At most `count` messages to one destination per `per`; the rest wait and are bundled."""

    model_config = ConfigDict(extra="forbid")

    count: int = Field(default=3, ge=1)
    per: Duration = timedelta(minutes=1)
