"""The mitigation phase's engine module: the verification window sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from warroom.engine.module import Outcome
from warroom.incidents.lifecycle import Rules
from warroom.mitigation import verification, verification_metrics
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.verification")
VERIFY_EVERY = timedelta(seconds=15)  # verification windows are minutes long


@dataclass
class VerificationSweep:
    """Sweep mitigated incidents whose verification window passed."""

    db: Database
    config: Callable[[], WarroomConfig]
    now: Callable[[], datetime]
    rules: Rules  # the lifecycle rules an auto-resolve passes, as every other resolve does
    # Told (number, event) after the sweep changed an incident, to rewrite its runbook file
    # and run the flows' listeners (a resolve starts the postmortem).
    on_changed: Callable[[int, str], object] | None = None
    name: str = "verification"
    interval: timedelta = field(default=VERIFY_EVERY)

    def update(self, now: datetime) -> Outcome:
        """Run one sweep at `now`."""
        self.sweep(now)
        return Outcome()

    def sweep(self, now: datetime | None = None) -> verification.SweepResult:
        """Sweep once (one transaction) and return what it verified and resolved."""
        config, when = self.config(), now or self.now()
        with self.db.transaction() as session:
            result = verification.sweep(session, config=config, now=when, rules=self.rules)
        verification_metrics.swept(result.severities, result.resolved)
        for number in result.verified:
            if self.on_changed is None:
                break
            try:
                self.on_changed(number, "resolve" if number in result.resolved else "verified")
            except Exception:  # the change is committed; the file catches up on the next one
                log.exception("cannot refresh INC-%s after verification", number)
        return result
