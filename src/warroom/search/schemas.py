"""The search API's answers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from warroom.search.models import KINDS
from warroom.search.service import Hit, Results


class SnippetPart(BaseModel):
    """A piece of the quote: plain text, or a word the query matched."""

    text: str
    match: bool


class SearchHit(BaseModel):
    """An incident the query found, with a quote of its best match."""

    number: int
    ref: str
    title: str
    status: str
    severity: str
    service: str | None
    incident_type: str
    visibility: str
    detected_at: datetime
    matched: str = Field(
        description="Where the best match is: incident, note, status_update, postmortem, "
        "action_item or alert."
    )
    matched_label: str = Field(description="The same, as a person reads it.")
    score: float = Field(description="Higher is better; comparable within one answer only.")
    snippet: str = Field(description="The quote as plain text.")
    highlights: list[SnippetPart] = Field(
        description="The quote in pieces, the matched words marked (render each as text)."
    )

    @classmethod
    def of(cls, hit: Hit) -> SearchHit:
        """Return the API shape of a hit."""
        incident = hit.incident
        return cls(
            number=incident.number,
            ref=incident.ref,
            title=incident.title,
            status=incident.status,
            severity=incident.severity,
            service=incident.service,
            incident_type=incident.incident_type,
            visibility=incident.visibility,
            detected_at=incident.detected_at,
            matched=hit.kind,
            matched_label=KINDS.get(hit.kind, hit.kind),
            score=round(hit.score, 6),
            snippet="".join(text for text, _ in hit.snippet),
            highlights=[SnippetPart(text=text, match=match) for text, match in hit.snippet],
        )


class SearchPage(BaseModel):
    """A page of hits, best first."""

    items: list[SearchHit]
    total: int = Field(description="Incidents matching, of those you may see.")
    capped: bool = Field(
        description="More places matched than one search scores (1,000): the hits are the "
        "best of the newest of them, and `total` counts their incidents (at least that many)."
    )
    page: int
    per_page: int
    next_page: int | None

    @classmethod
    def of(cls, results: Results) -> SearchPage:
        """Return the API shape of a page of results."""
        return cls(
            items=[SearchHit.of(hit) for hit in results.hits],
            total=results.total,
            capped=results.capped,
            page=results.page,
            per_page=results.per_page,
            next_page=results.next_page,
        )
