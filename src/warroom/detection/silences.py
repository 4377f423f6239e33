"""Silences (maintenance windows): create, list and expire; those in force, for the intake."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import Conflict, Invalid, NotFound
from warroom.detection.matchers import matches_all, parse_matcher
from warroom.detection.models import Silence

MAX_DURATION = timedelta(days=366)


def create(
    session: Session,
    *,
    matchers: list[str],
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    created_by: str | None,
    now: datetime,
) -> Silence:
    """Create a silence after checking its matchers and window."""
    if not matchers:
        raise Invalid(
            'a silence needs at least one matcher, e.g. service="checkout"', {"field": "matchers"}
        )
    for index, text in enumerate(matchers):
        try:
            parse_matcher(text)
        except ValueError as exc:
            raise Invalid(f"matchers[{index}]: {exc}", {"field": f"matchers.{index}"}) from exc
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at", {"field": "ends_at"})
    if ends_at <= now:
        raise Invalid("ends_at is in the past; the silence would never apply", {"field": "ends_at"})
    if ends_at - starts_at > MAX_DURATION:
        raise Invalid("a silence may last at most 366 days", {"field": "ends_at"})
    if not comment.strip():
        raise Invalid("say why in the comment (who is doing what)", {"field": "comment"})
    silence = Silence(
        matchers=matchers,
        starts_at=starts_at,
        ends_at=ends_at,
        comment=comment.strip(),
        created_by=created_by,
        created_at=now,
    )
    session.add(silence)
    session.flush()
    return silence


def get(session: Session, silence_id: int) -> Silence:
    """Return a silence or raise NotFound."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"no silence {silence_id}")
    return silence


def list_silences(session: Session, *, now: datetime, state: str = "active") -> list[Silence]:
    """Return silences that are `active`, `pending`, `expired` or `all`, newest first."""
    stmt = select(Silence).order_by(Silence.id.desc())
    if state == "active":
        stmt = stmt.where(Silence.starts_at <= now, Silence.ends_at > now)
    elif state == "pending":
        stmt = stmt.where(Silence.starts_at > now)
    elif state == "expired":
        stmt = stmt.where(Silence.ends_at <= now)
    elif state != "all":
        raise Invalid(f"unknown state {state!r}; use active, pending, expired or all")
    return list(session.scalars(stmt.limit(1000)))


def state_of(silence: Silence, now: datetime) -> str:
    """Return `pending`, `active` or `expired`."""
    if silence.ends_at <= now:
        return "expired"
    return "pending" if silence.starts_at > now else "active"


def expire(session: Session, *, silence_id: int, now: datetime, actor: str | None) -> Silence:
    """End a silence now; expiring an expired silence is a conflict."""
    silence = get(session, silence_id)
    if silence.ends_at <= now:
        raise Conflict(f"silence {silence_id} already expired at {silence.ends_at.isoformat()}")
    silence.starts_at = min(silence.starts_at, now)
    silence.ends_at = now
    silence.expired_by = actor
    return silence


@dataclass
class ActiveSilences:
    """The silences in force at `now`, read once on first use."""

    session: Session
    now: datetime
    _loaded: list[tuple[Silence, list[object]]] | None = field(default=None, init=False)

    def matching(self, labels: dict[str, str]) -> Silence | None:
        """Return the first silence whose matchers all match `labels`, if any."""
        if self._loaded is None:
            rows = self.session.scalars(
                select(Silence).where(Silence.starts_at <= self.now, Silence.ends_at > self.now)
            )
            self._loaded = [(s, [parse_matcher(m) for m in s.matchers]) for s in rows]
        for silence, matchers in self._loaded:
            if matches_all(matchers, labels):  # type: ignore[arg-type]
                return silence
        return None
