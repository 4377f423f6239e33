"""Start a postmortem when an incident resolves: a listener on the incident flows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from warroom.core.clock import Clock
from warroom.incidents import service as incidents
from warroom.incidents.flows import IncidentFlows
from warroom.incidents.schemas import IncidentDetail
from warroom.postmortem import service
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.postmortem")
TRIGGERS = frozenset({"resolve", "close"})  # flow events after which a postmortem is due


@dataclass
class StartOnResolve:
    """Creates the postmortem right after the resolve commits (GET/PUT also create it lazily)."""

    db: Database
    config: Callable[[], WarroomConfig]
    clock: Clock

    def __call__(self, event: str, detail: IncidentDetail) -> None:
        """Create the postmortem of a just-resolved incident; never fail the resolve."""
        if event not in TRIGGERS or detail.status not in service.DONE_STATUSES:
            return
        try:
            with self.db.transaction() as session:
                incident = incidents.get(session, detail.number, for_update=True)
                if service.find(session, incident) is not None:
                    return
                service.ensure(
                    session, config=self.config(), incident=incident, now=self.clock.now()
                )
        except Exception:  # the incident is resolved already; GET creates it later
            log.exception("cannot start the postmortem", extra={"incident": detail.ref})


def install(flows: IncidentFlows) -> None:
    """Add the listener to the incident flows (once, however often the app is built)."""
    if flows.listeners is None:
        flows.listeners = []
    if not any(isinstance(item, StartOnResolve) for item in flows.listeners):
        flows.listeners.append(StartOnResolve(db=flows.db, config=flows.config, clock=flows.clock))
