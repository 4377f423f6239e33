"""Push settings (`integrations.push`): which apprise services a contact method may name."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Urgency = Literal["min", "low", "default", "high", "max"]
DEFAULT_URGENCY: dict[str, Urgency] = {"SEV-1": "max", "SEV-2": "high", "SEV-3": "default"}

# Push services, not general-purpose HTTP: `json://` or `form://` would let a self-service
# contact method make warroom POST to any address inside the network.
DEFAULT_SCHEMES = [
    "ntfy", "ntfys", "pover", "tgram", "workflow", "workflows", "matrix", "matrixs",
    "gotify", "gotifys", "pushover", "discord", "rocket", "rockets", "zulip",
]  # fmt: skip


class PushConfig(BaseModel):
    """`integrations.push` in warroom.yaml (`push: {}` is enough): pages by apprise URLs."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    schemes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCHEMES))
    timeout: float = Field(default=10.0, gt=0, le=60)
    # Methods people add themselves may not point into warroom's own network (their code is
    # sent at once: server-side request forgery). True allows it (a self-hosted ntfy inside).
    private_hosts: bool = False
    # Urgency of a page by severity: ntfy priorities (min, low, default, high, max).
    urgency: dict[str, Urgency] = Field(default_factory=lambda: dict(DEFAULT_URGENCY))
