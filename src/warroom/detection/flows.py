"""Intake flow: one transaction per delivery, then runbook files and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from warroom.config import WarroomConfig
from warroom.core.clock import Clock
from warroom.detection import metrics
from warroom.detection.routing import Router
from warroom.detection.schemas import AlertIn, RouteDecision
from warroom.detection.service import IngestResult, Intake
from warroom.incidents.flows import IncidentFlows, RunbookPort, TemplateChoice
from warroom.storage.db import Database

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

    def ingest(self, *, source: str, integration: str, alerts: list[AlertIn]) -> IngestResult:
        """Store a delivery's alerts in one transaction; nothing is kept if any step fails."""
        config = self.config()
        router = self.router()

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

        with self.db.transaction() as session:
            intake = Intake(
                session=session,
                config=config,
                decide=decide,
                choose_template=choose,
                now=self.clock.now(),
                source=source,
                integration=integration,
            )
            result = intake.ingest(alerts)
        metrics.record(source, result)
        for number in result.touched:
            event = "declared" if number in result.opened else "alert"
            self.incidents.refresh(number, event)
        if result.opened:
            log.info(
                "%s/%s opened %s",
                source,
                integration,
                ", ".join(f"INC-{n}" for n in result.opened),
            )
        return result
