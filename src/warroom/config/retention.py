"""Data retention (`retention:` in warroom.yaml): how long rows that stop mattering are kept.

The incident record (incidents, timelines, alerts that joined them, postmortems, evidence)
and the audit chain are never pruned; docs/operations.md#retention says what is and why.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.durations import Duration, format_duration

# A retention shorter than this is a typo (`30m` for `30d`), not a policy: the rows it
# would delete are still being used (an outbox row is retried for hours).
SHORTEST = timedelta(days=1)


class RetentionConfig(BaseModel):
    """How long each kind of prunable row is kept after it stopped mattering (at least 1d)."""

    model_config = ConfigDict(extra="forbid")

    sessions: Duration = Field(
        default=timedelta(days=30),
        description="Browser sessions, after they ended or expired (a sign-in's audit entry "
        "names its session: the row adds the browser's user agent and its last use).",
    )
    notifications: Duration = Field(
        default=timedelta(days=90),
        description="Sent, dead and cancelled outbox messages, after they were written; an "
        "incident's only once it has been resolved that long (a dead one can be resent until "
        "then). Pending and failed ones are never pruned.",
    )
    page_runs: Duration = Field(
        default=timedelta(days=90),
        description="Finished personal paging runs, once their incident has been resolved "
        "that long.",
    )
    silences: Duration = Field(
        default=timedelta(days=90),
        description="Silences, after they ended (one an incident's alert names is kept).",
    )
    alerts: Duration = Field(
        default=timedelta(days=90),
        description="Closed alerts that joined no incident (silenced, or routed to none), "
        "after they were last seen. Alerts of an incident are its record: never pruned.",
    )

    @field_validator("*")
    @classmethod
    def _long_enough(cls, value: timedelta) -> timedelta:
        if value < SHORTEST:  # the loader names the field: `retention.sessions: …`
            raise ValueError(
                f"must be at least {format_duration(SHORTEST)}, got {format_duration(value)}"
            )
        return value
