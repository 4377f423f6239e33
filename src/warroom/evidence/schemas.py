"""What the API says about evidence: items with their custody, and a hand-over to record."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from warroom.evidence.models import CustodyEntry, EvidenceItem


class CustodyOut(BaseModel):
    """One entry of an item's chain of custody."""

    at: datetime = Field(description="When, in UTC.")
    local_time: str = Field(description="When, on the actor's own clock, with its offset.")
    timezone: str = Field(description="The actor's time zone (warroom.yaml's people).")
    who: str
    action: str = Field(description="collected, transferred, viewed, exported or verified")
    location: str = Field(description="Where the evidence is (or went).")
    note: str

    @classmethod
    def of(cls, entry: CustodyEntry) -> CustodyOut:
        """Build from a row."""
        local = entry.at.astimezone(ZoneInfo(entry.timezone))
        return cls(
            at=entry.at,
            local_time=local.isoformat(timespec="seconds"),
            timezone=entry.timezone,
            who=entry.who,
            action=entry.action,
            location=entry.location,
            note=entry.note,
        )


class EvidenceOut(BaseModel):
    """One version of a piece of evidence."""

    id: int
    incident: str = Field(description="The incident's ref, INC-n.")
    name: str
    original_name: str = Field(description="The file's own name as uploaded.")
    version: int = Field(description="1 for the first upload of a name, then 2, 3…")
    sha256: str = Field(description="The file's SHA-256, hex, computed while it was received.")
    size: int = Field(description="In bytes.")
    media_type: str
    collected_by: str
    collected_at: datetime
    note: str
    custody: list[CustodyOut] = Field(default_factory=list)

    @classmethod
    def of(cls, item: EvidenceItem, ref: str, custody: list[CustodyEntry]) -> EvidenceOut:
        """Build from a row and its custody entries."""
        return cls(
            id=item.id,
            incident=ref,
            name=item.name,
            original_name=item.original_name,
            version=item.version,
            sha256=item.sha256,
            size=item.size,
            media_type=item.media_type,
            collected_by=item.collected_by,
            collected_at=item.collected_at,
            note=item.note,
            custody=[CustodyOut.of(entry) for entry in custody],
        )


class TransferIn(BaseModel):
    """A hand-over of evidence: where it went, and why."""

    model_config = ConfigDict(extra="forbid")

    location: str = Field(
        min_length=1, max_length=1000, description="Where the evidence is now, or who holds it."
    )
    note: str = Field("", max_length=10_000, description="Why, or under what agreement.")
