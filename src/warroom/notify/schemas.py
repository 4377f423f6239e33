"""API shapes of the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from warroom.notify.models import Notification


class NotificationOut(BaseModel):
    """One outbox row as the API shows it (payload texts included, never secrets)."""

    id: int
    key: str
    incident: str | None
    channel: str
    action: str
    destination: str
    status: str
    attempts: int
    max_attempts: int
    created_at: datetime
    due_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    provider_id: str | None
    last_error: str | None
    bundled_into: int | None
    text: str | None

    @classmethod
    def of(cls, row: Notification, incident_number: int | None) -> NotificationOut:
        """Build from the model."""
        payload: dict[str, Any] = row.payload or {}
        return cls(
            id=row.id,
            key=row.key,
            incident=f"INC-{incident_number}" if incident_number else None,
            channel=row.channel,
            action=row.action,
            destination=row.destination,
            status=row.status,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            created_at=row.created_at,
            due_at=row.due_at,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            provider_id=row.provider_id,
            last_error=row.last_error,
            bundled_into=row.bundled_into,
            text=str(payload["text"]) if "text" in payload else None,
        )


class NotificationPage(BaseModel):
    """A page of notifications, newest first, and the outbox depth by status."""

    items: list[NotificationOut]
    next_cursor: int | None
    depth: dict[str, int]
