"""Who becomes Incident Commander when an incident is declared, and why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from warroom.core.errors import WarroomError

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.triage")
# schedule id, instant -> layer name -> people on call (in the schedule's layer order)
OnCallLookup = Callable[[str, datetime], dict[str, list[str]]]


def _layer_order(layers: dict[str, list[str]]) -> list[str]:
    """Primary first, then secondary, then the rest as configured."""
    names = list(layers)
    preferred = [n for n in ("primary", "secondary") if n in layers]
    return preferred + [n for n in names if n not in preferred]


def choose_commander(
    config: WarroomConfig,
    *,
    service: str | None,
    reporter: str | None,
    at: datetime,
    lookup: OnCallLookup | None,
) -> tuple[str | None, str]:
    """Return (person, reason): the service's primary on-call, else its secondary, else a lead
    of its team, else the reporter — the runbook's "the on-call engineer is the initial IC"."""
    found = config.service(service) if service else None
    if found is not None and found.schedule and lookup is not None:
        try:
            layers = lookup(found.schedule, at)
        except WarroomError as exc:  # PagerDuty down: fall through to the next rule
            log.warning("on-call lookup for %s failed: %s", found.schedule, exc.message)
            layers = {}
        for position, name in enumerate(_layer_order(layers)[:2]):
            if layers[name]:
                which = "primary" if position == 0 else "secondary"
                return layers[name][0], f"{which} on-call of schedule {found.schedule} ({name})"
    team = config.team(found.team) if found is not None and found.team else None
    if team is not None and team.leads:
        return team.leads[0], f"lead of team {team.id} (nobody on call)"
    if reporter:
        return reporter, "the reporter (no on-call schedule or team lead for this service)"
    return None, "nobody on call and no reporter"
