"""Alert storms (`detection.storm:` in warroom.yaml): when many new incidents page as one."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from warroom.core.durations import Duration


class StormLimit(BaseModel):
    """The rate that starts a storm in one scope."""

    model_config = ConfigDict(extra="forbid")

    threshold: int = Field(
        ge=1,
        description="New incidents within `window` that still page one by one; "
        "the next one starts a storm.",
    )
    window: Duration = Field(
        default=timedelta(minutes=1),
        description="How far back new incidents are counted; a storm ends when none has "
        "joined it for this long.",
    )


class StormConfig(StormLimit):
    """Bundling of alert storms: one parent incident pages for many new ones."""

    enabled: bool = Field(
        default=True,
        description="Bundle alert storms. Off: every new incident pages on its own.",
    )
    threshold: int = Field(
        default=20,
        ge=1,
        description="New incidents in one scope within `window` that still page one by "
        "one; the next one starts a storm.",
    )
    by: Literal["service", "policy"] = Field(
        default="service",
        description="The scope whose new incidents are counted together: each service, or "
        "each escalation policy (the services that page the same people).",
    )
    limits: dict[str, StormLimit] = Field(
        default_factory=dict,
        description="Another threshold and window for some scopes, by service id (or "
        "policy id with `by: policy`).",
    )

    def limit(self, scope_id: str) -> StormLimit:
        """Return the threshold and window in force for a service or policy id."""
        return self.limits.get(scope_id, self)
