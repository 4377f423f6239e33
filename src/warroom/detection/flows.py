"""Intake flow: one transaction per delivery, then runbook files and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from warroom.config import WarroomConfig
from warroom.core.clock import Clock
from warroom.detection import metrics
from warroom.detection.routing import Router
from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
from warroom.detection.service import Intake
from warroom.incidents.flows import IncidentFlows, RunbookPort, TemplateChoice
from warroom.storage.db import Database
from warroom.storage.group_commit import GroupCommitter

log = logging.getLogger("warroom.detection")


@dataclass
class IntakeFlows:
    """Turns parsed deliveries into stored alerts and incidents."""

    db: Database
    config: Callable[[], WarroomConfig]
    clock: Clock
    runbooks: RunbookPort
    incidents: IncidentFlows
    _router: tuple[int, Router] | None = field(default=None, init=False)

    def router(self) -> Router:
        """Return the router for the configuration in force (rebuilt after a reload)."""
        config = self.config()
        if self._router is None or self._router[0] != id(config):
            self._router = (
                id(config),
                Router(config.routes, config.detection, list(config.severities)),
            )
        return self._router[1]

    def __post_init__(self) -> None:
        self._committer = GroupCommitter(self.db, name="intake", after_commit=self._published)

    def ingest(self, *, source: str, integration: str, alerts: list[AlertIn]) -> IngestResult:
        """Store a delivery's alerts durably and return what happened (blocks until committed)."""
        return self.submit(source=source, integration=integration, alerts=alerts).result()

    def submit(
        self, *, source: str, integration: str, alerts: list[AlertIn]
    ) -> Future[IngestResult]:
        """Queue a delivery for the next group commit; nothing of it is kept if it fails."""
        config = self.config()
        router = self.router()
        now = self.clock.now()

        def decide(alert: AlertIn) -> RouteDecision:
            context = {
                "source": source,
                "integration": integration,
                "title": alert.title,
                "annotations": alert.annotations,
            }
            return router.decide(alert.labels, severity_hint=alert.severity, context=context)

        def choose(incident_type: str | None, service: str | None) -> TemplateChoice:
            return self.runbooks.choose_template(
                config, runbook=None, incident_type=incident_type, service=service
            )

        def work(session: Session) -> IngestResult:
            intake = Intake(
                session=session,
                config=config,
                decide=decide,
                choose_template=choose,
                now=now,
                source=source,
                integration=integration,
                oncall=self.incidents.oncall,
            )
            return intake.ingest(alerts)

        return self._committer.submit(work)

    def close(self) -> None:
        """Finish queued deliveries and stop the writer thread."""
        self._committer.close()

    def _published(self, results: list[IngestResult]) -> None:
        """After a commit: count, and rewrite each touched incident's file once per batch."""
        opened: set[int] = set()
        touched: list[int] = []
        for result in results:
            metrics.record(result.source, result)
            opened.update(result.opened)
            touched.extend(n for n in result.touched if n not in touched)
            if result.opened:
                log.info(
                    "%s opened %s", result.source, ", ".join(f"INC-{n}" for n in result.opened)
                )
        for number in touched:
            self.incidents.refresh(number, "declared" if number in opened else "alert")
