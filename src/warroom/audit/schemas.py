"""The audit log as the API and the CLI's --json show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from warroom.audit.models import AuditEntry


class AuditEntryOut(BaseModel):
    """One entry, with the hashes that chain it."""

    seq: int = Field(description="The entry's place in the chain: 1, 2, 3… without gaps.")
    at: datetime
    actor: str = Field(description='Who: a user, "os:NAME" for a local admin command, "system:…".')
    client: str | None = Field(description='From where: the client address, or "local".')
    action: str
    target: str | None
    outcome: str = Field(description="ok, denied or failed.")
    details: dict[str, Any]
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: AuditEntry) -> AuditEntryOut:
        """Return the entry as shown."""
        return cls(
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            client=row.client,
            action=row.action,
            target=row.target,
            outcome=row.outcome,
            details=row.details,
            prev_hash=row.prev_hash,
            hash=row.hash,
        )


class AuditHeadOut(BaseModel):
    """The chain's newest entry: keep its hash outside warroom to prove nothing was cut off."""

    seq: int = Field(description="How many entries the chain holds.")
    hash: str


class AuditPage(BaseModel):
    """Entries, newest first, and where the next (older) page starts."""

    entries: list[AuditEntryOut]
    next_before: int | None = Field(description="Pass as ?before= for the next, older page.")
    head: AuditHeadOut
