"""What the engine runs: modules, each with a name, an interval and one update per round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


@dataclass
class Outcome:
    """What one update did, as far as the runner needs to know."""

    messages: int = 0  # outbox rows written: the send loop is woken
    # More is due right now (a batch limit was reached): the runner starts the next round at
    # once, skips the modules after this one until it has caught up, and holds sending.
    backlog: bool = False
    next_at: datetime | None = None  # when this module next has work, if it knows


class Module(Protocol):
    """One piece of the engine's work; it keeps its state in the database, not in memory."""

    @property
    def name(self) -> str:
        """Name the module in logs and metrics."""
        ...

    @property
    def interval(self) -> timedelta:
        """Return the least time between two updates (zero: every round)."""
        ...

    def update(self, now: datetime) -> Outcome:
        """Do what is due at `now`, committing its own transactions."""
        ...


class Sending(Protocol):
    """The send loop's work: deliver what the outbox holds."""

    def send_due(self, stopping: Callable[[], bool] = ...) -> int:
        """Send due messages unless `stopping()` says not to; return how many were handled."""
        ...

    def close(self) -> None:
        """Stop sending and hand back what was claimed but not sent."""
        ...
