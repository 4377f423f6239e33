"""API shape of an incident's escalation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from warroom.escalation.models import Escalation


class EscalationOut(BaseModel):
    """Where paging stands for one incident, with the policy pinned when it started."""

    incident: str
    policy_id: str
    policy_version: str
    policy: dict[str, Any]
    state: str  # active, stopped, exhausted, broken
    step: int  # the next step to run (0-based)
    round: int  # 0 for the first round
    started_at: datetime
    next_at: datetime | None
    reason: str | None

    @classmethod
    def of(cls, row: Escalation, number: int) -> EscalationOut:
        """Build from the model."""
        return cls(
            incident=f"INC-{number}",
            policy_id=row.policy_id,
            policy_version=row.policy_version,
            policy=row.policy,
            state=row.state,
            step=row.step,
            round=row.loop,
            started_at=row.started_at,
            next_at=row.next_at,
            reason=row.reason,
        )
