"""The pace of a sender's sends, and how many rows its next round may claim at that pace."""

from __future__ import annotations

import threading


class Pace:
    """How long sends take lately, and the round size that allows.

    A round is sized so that each worker's share of it takes about `budget` seconds at the
    round's mean send time: large rounds while a vendor answers in milliseconds (fewer
    claims and commits per message), small ones as soon as it slows down or times out. The
    size shrinks at once and grows at most twofold a round. The slowest recent send (kept
    at once, forgotten by halves a round) tells a worker whether a send it is about to
    start can end before its claim's lease does.
    """

    def __init__(self, *, budget: float, least: int, most: int, start: int) -> None:
        self.budget, self.least, self.most = budget, least, most
        self._size = max(least, min(most, start))
        self._slowest = 0.0  # seconds: the slowest send lately
        self._round = [0.0, 0, 0.0]  # the round under way: total seconds, sends, slowest
        self._lock = threading.Lock()  # sends end on several worker threads

    def observe(self, seconds: float) -> None:
        """Count one send that took this long (the slowest takes effect at once)."""
        with self._lock:
            self._slowest = max(self._slowest, seconds)
            total, count, slowest = self._round
            self._round = [total + seconds, count + 1, max(slowest, seconds)]

    def round_ended(self) -> None:
        """Resize from the round's sends: shrink to fit their mean time, or grow (× 2 at most)."""
        with self._lock:
            total, count, slowest = self._round
            self._round = [0.0, 0, 0.0]
            # Forgotten even when nothing was sent: a send that once outlasted a whole lease
            # must not keep every later one from starting.
            self._slowest = max(slowest, self._slowest / 2)
            if not count:  # nothing was sent: nothing learnt about the size
                return
            mean = total / count
            fits = int(self.budget / mean) if mean > 0 else self.most
            self._size = max(self.least, min(self.most, fits, 2 * self._size))

    @property
    def per_worker(self) -> int:
        """Return how many rows each worker's share of the next round should hold."""
        return self._size

    @property
    def slowest(self) -> float:
        """Return how long the slowest recent send took, in seconds (0 before any)."""
        return self._slowest
