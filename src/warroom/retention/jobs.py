"""Retention's engine module: prune what is past its time every few minutes, a little at once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from warroom.engine.module import Outcome
from warroom.retention import metrics
from warroom.retention.service import BATCH, prune
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.retention")
PRUNE_EVERY = timedelta(minutes=5)
# A backlog (the first run on an old database) goes on at this pace, between other rounds.
CATCH_UP_EVERY = timedelta(seconds=1)
BATCHES_PER_ROUND = 2  # of each kind; the round waits for these


@dataclass
class Pruning:
    """Delete rows past their retention (config `retention:`) in small batches."""

    db: Database
    config: Callable[[], WarroomConfig]
    name: str = "retention"
    max_batches: int = BATCHES_PER_ROUND
    batch: int = BATCH
    # Not state: a restarted engine starts over at the slow pace and finds the backlog again.
    _behind: bool = field(default=False, init=False)

    @property
    def interval(self) -> timedelta:
        """Return how long to wait before the next pruning: short while a backlog is left."""
        return CATCH_UP_EVERY if self._behind else PRUNE_EVERY

    def update(self, now: datetime) -> Outcome:
        """Prune at most `max_batches` batches of each kind; log and count what went."""
        done = prune(
            self.db,
            retention=self.config().retention,
            now=now,
            batch=self.batch,
            max_batches=self.max_batches,
        )
        self._behind = any(p.more for p in done)
        deleted = [p for p in done if p.rows]
        for pruned in deleted:
            metrics.DELETED.labels(pruned.kind).inc(pruned.rows)
        if deleted:
            log.info(
                "retention deleted %s%s",
                ", ".join(f"{p.kind}={p.rows}" for p in deleted),
                " (more to come)" if self._behind else "",
            )
        return Outcome()
