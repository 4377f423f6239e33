"""Related incidents as the API, the web room and the CLI show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ActionItemGist(BaseModel):
    """One action item of a related incident's postmortem."""

    title: str
    status: str


class PostmortemGist(BaseModel):
    """What a related incident's postmortem found and what it set out to do."""

    root_cause: str
    action_items: list[ActionItemGist]


class RelatedItem(BaseModel):
    """A past incident related to this one, with its score and why."""

    ref: str
    title: str
    severity: str
    status: str
    service: str | None
    detected_at: datetime
    score: int
    reasons: list[str]
    explanation: str  # "same service, same alertname (HighCPU), 3 days before"
    postmortem: PostmortemGist | None


class RelatedOut(BaseModel):
    """The incidents related to one incident and how often it happened before."""

    incident: str
    window_days: int
    repeats: int  # past incidents with the same service and alertname in the window
    repeats_text: str | None  # "3 times in the last 90 days"
    items: list[RelatedItem]
