"""Related incidents use cases: for a reader (their visibility) and for a public channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.orm import Session

from warroom.incidents import service as incidents
from warroom.incidents.actor import Access
from warroom.incidents.models import Incident
from warroom.incidents.visibility import check_visible, visible
from warroom.search import related
from warroom.search.related_schemas import ActionItemGist, PostmortemGist, RelatedItem, RelatedOut
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

MAX_LIMIT = 20


class Lesson(Protocol):
    """A postmortem's root cause and action items (title, status)."""

    @property
    def root_cause(self) -> str: ...

    @property
    def action_items(self) -> list[tuple[str, str]]: ...


# The postmortem package answers this; the composition root wires it (phases are siblings).
Lessons = Callable[[Session, list[int]], "dict[int, Lesson]"]


def no_lessons(session: Session, incident_ids: list[int]) -> dict[int, Lesson]:
    """Return no postmortems (where none are wired)."""
    return {}


def items(session: Session, found: related.Related, lessons: Lessons) -> list[RelatedItem]:
    """Return the matches as items, each with its postmortem's root cause and action items."""
    learned = lessons(session, [m.incident.id for m in found.matches])
    out = []
    for match in found.matches:
        lesson = learned.get(match.incident.id)
        gist = None
        if lesson is not None:
            actions = [ActionItemGist(title=t, status=s) for t, s in lesson.action_items]
            gist = PostmortemGist(root_cause=lesson.root_cause, action_items=actions)
        other = match.incident
        out.append(
            RelatedItem(
                ref=other.ref,
                title=other.title,
                severity=other.severity,
                status=other.status,
                service=other.service,
                detected_at=other.detected_at,
                score=match.score,
                reasons=match.reasons,
                explanation=match.explanation,
                postmortem=gist,
            )
        )
    return out


def out_of(
    session: Session, incident: Incident, found: related.Related, lessons: Lessons
) -> RelatedOut:
    """Return the API's answer for one incident."""
    return RelatedOut(
        incident=incident.ref,
        window_days=related.WINDOW.days,
        repeats=found.repeats,
        repeats_text=found.repeats_text,
        items=items(session, found, lessons),
    )


@dataclass
class RelatedFlows:
    """Finds an incident's related incidents for a reader, through the visibility rule."""

    db: Database
    config: Callable[[], WarroomConfig]
    lessons: Lessons = no_lessons

    def for_reader(self, ref: str | int, access: Access, *, limit: int = 5) -> RelatedOut:
        """Return the incidents related to `ref` that `access` may see (NotFound if not it)."""
        config = self.config()
        with self.db.session() as session:
            incident = incidents.get(session, ref)
            check_visible(session, config, access, incident)
            found = related.find(
                session, incident, seen=visible(config, access), limit=min(limit, MAX_LIMIT)
            )
            return out_of(session, incident, found, self.lessons)

    def announcement(self, session: Session, incident: Incident) -> list[str]:
        """Return the lines a public channel may show: public incidents only, a public one's."""
        if incident.visibility != "public":
            return []
        found = related.find(
            session,
            incident,
            seen=related.public_only(),
            limit=3,
            candidates=related.ANNOUNCED,
        )
        base = (self.config().notifications.base_url or "").rstrip("/")
        learned = self.lessons(session, [m.incident.id for m in found.matches])
        lines = []
        if found.repeats_text:
            lines.append(f"Happened {found.repeats_text}.")
        for match in found.matches:
            other = match.incident
            link = f" {base}/incidents/{other.number}" if base else ""
            if base and other.id in learned:
                link += f" (postmortem: {base}/incidents/{other.number}/postmortem)"
            lines.append(f"Related: {other.ref} {other.title} ({match.explanation}){link}")
        return lines
