"""Silencing: the silences in force for one intake run, matched against alert labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.detection.matchers import matches_all, parse_matcher
from warroom.detection.models import Silence


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
