"""`/metrics`: seconds since each heartbeat's last ping, read from the rows at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from warroom.detection.heartbeats import statuses
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

NAME = "warroom_heartbeat_seconds_since_ping"
HELP = "Seconds since the heartbeat's last ping (absent until its first ping)."
DOWN = "warroom_heartbeat_down"
DOWN_HELP = "1 while the heartbeat is silent past its interval and grace (its incident open)."


class HeartbeatAges:
    """A collector of each configured heartbeat's age, computed on every scrape."""

    def __init__(
        self, db: Database, config: Callable[[], WarroomConfig], now: Callable[[], datetime]
    ) -> None:
        self.db, self.config, self.now = db, config, now

    def describe(self) -> Iterator[Metric]:
        """Name the metrics without touching the database."""
        yield GaugeMetricFamily(NAME, HELP, labels=["heartbeat", "service"])
        yield GaugeMetricFamily(DOWN, DOWN_HELP, labels=["heartbeat", "service"])

    def collect(self) -> Iterator[Metric]:
        """Read every heartbeat's row once; a heartbeat without a ping has no age sample."""
        config = self.config()
        ages = GaugeMetricFamily(NAME, HELP, labels=["heartbeat", "service"])
        down = GaugeMetricFamily(DOWN, DOWN_HELP, labels=["heartbeat", "service"])
        if config.heartbeats:
            now = self.now()
            with self.db.session() as session:
                found = statuses(session, config=config)
            for beat in found:
                since = beat.seconds_since(now)
                if since is not None:
                    ages.add_metric([beat.id, beat.service], since)
                down.add_metric([beat.id, beat.service], 1.0 if beat.state == "down" else 0.0)
        yield ages
        yield down
