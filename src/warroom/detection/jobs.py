"""The detection phase's engine module: heartbeats that fell silent, and those that recovered."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from warroom.detection import heartbeat_checks, heartbeats
from warroom.detection.heartbeat_checks import TemplateChooser
from warroom.engine.module import Outcome
from warroom.incidents.lifecycle import Rules
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.heartbeats")
# A due row another engine holds (SKIP LOCKED) is looked at again this soon, not at once.
HELD_ELSEWHERE = timedelta(milliseconds=50)


@dataclass
class HeartbeatChecks:
    """Open an incident for each silent heartbeat; resolve those whose window passed."""

    db: Database
    config: Callable[[], WarroomConfig]
    rules: Rules
    choose_template: Callable[[WarroomConfig], TemplateChooser]
    # Told (number, event) after a check changed an incident: its runbook file and the flows'
    # listeners (metrics; a resolve starts the postmortem).
    on_changed: Callable[[int, str], object] | None = None
    name: str = "heartbeats"
    interval: timedelta = field(default=timedelta(0))  # a missed ping is seen within a tick
    # The configuration the rows were last brought in step with: a cache, not state — every
    # engine syncs after its own start and each reload, and syncing twice changes nothing.
    _synced: object | None = field(default=None, init=False)

    def update(self, now: datetime) -> Outcome:
        """Sync the rows after a (re)load, then check what is due (one transaction each)."""
        config = self.config()
        if config is not self._synced:
            with self.db.transaction() as session:
                heartbeats.sync(session, config=config, now=now)
            self._synced = config
        if not config.heartbeats:
            return Outcome()
        with self.db.transaction() as session:
            result = heartbeat_checks.check(
                session,
                config=config,
                now=now,
                rules=self.rules,
                choose_template=self.choose_template(config),
            )
            # Asked in the same transaction: one round trip fewer on every round.
            next_at = None if result.full else heartbeat_checks.next_due(session)
        for number, event in result.changed:
            if event == "declared":
                log.info("heartbeat silent: opened INC-%s", number, extra={"incident": number})
            if self.on_changed is not None:
                try:
                    self.on_changed(number, event)
                except Exception:  # committed; the file catches up on the incident's next change
                    log.exception("cannot refresh INC-%s after a heartbeat check", number)
        if result.full:
            return Outcome(backlog=True)
        if next_at is not None and next_at <= now:
            next_at = now + HELD_ELSEWHERE
        return Outcome(next_at=next_at)
