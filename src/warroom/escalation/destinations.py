"""Where the planner's messages may go: drills, codenames, status page, PagerDuty, webhooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.drills.models import Drill
from warroom.incidents.models import Incident
from warroom.notify.cards import codename
from warroom.notify.messages import Payload
from warroom.notify.models import Notification
from warroom.notify.ports import IncidentCard
from warroom.status.models import StatusUpdate

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


# What each outside channel is called in a scenario's `allow` (drills/scenario.py).
_ALLOWANCE = {"status_page": "status_page", "webhook": "webhooks", "pager": "pagerduty"}


def drill_allows(session: Session, incident: Incident) -> frozenset[str] | None:
    """Return what a drill's scenario lets it reach outside warroom; None for a real incident."""
    if incident.drill_id is None:
        return None
    allow = session.scalar(select(Drill.allow).where(Drill.id == incident.drill_id))
    return frozenset(allow or ())


def reaches(allowed: frozenset[str] | None, what: Payload | str) -> bool:
    """Tell whether a message may go out: always for a real incident; for a drill, chat,
    e-mail pages and the like, and the status page, executives, Jira, webhooks and
    PagerDuty only when its scenario allows them."""
    if allowed is None:
        return True
    if isinstance(what, str):
        return what in allowed
    name = _ALLOWANCE.get(what.channel)
    if name is None and what.channel == "tracker":
        name = "jira"
    return name is None or name in allowed


def outside(incident: Incident, card: IncidentCard) -> IncidentCard:
    """Return the card as services outside warroom (PagerDuty, Zoom) may read it: a restricted
    incident goes under its codename, `INC-42 (restricted)`."""
    return codename(card) if incident.visibility == "restricted" else card


def on_status_page(incident: Incident, config: WarroomConfig) -> bool:
    """Tell whether the hosted status page hears about this incident (public ones only)."""
    page = config.integrations.statuspage
    return page is not None and incident.visibility == "public" and page.sends(incident.severity)


def mirrored_to_status_page(session: Session, incident: Incident, config: WarroomConfig) -> bool:
    """Tell whether a public update of this incident went to the hosted status page."""
    page = config.integrations.statuspage
    if page is None or not page.sends(incident.severity):
        return False
    found = session.scalar(
        select(StatusUpdate.id)
        .where(StatusUpdate.incident_id == incident.id, StatusUpdate.public.is_(True))
        .limit(1)
    )
    return found is not None


def published_components(session: Session, incident: Incident) -> list[str]:
    """Return the components any public update of this incident named."""
    rows = session.scalars(
        select(StatusUpdate.components).where(
            StatusUpdate.incident_id == incident.id, StatusUpdate.public.is_(True)
        )
    )
    return sorted({component for components in rows for component in (components or {})})


def pagerduty_triggered(session: Session, incident: Incident) -> bool:
    """Tell whether PagerDuty was ever told of this incident (a trigger is in the outbox)."""
    found = session.scalar(
        select(Notification.id)
        .where(
            Notification.incident_id == incident.id,
            Notification.channel == "pager",
            Notification.action == "trigger",
        )
        .limit(1)
    )
    return found is not None


def pagerduty_hears(config: WarroomConfig, severity: str) -> bool:
    """Tell whether PagerDuty hears about incidents of this severity."""
    pager = config.integrations.pagerduty_events
    return pager is not None and pager.sends(severity)


def outgoing_webhooks(config: WarroomConfig) -> list[dict[str, Any]]:
    """Return the configured outgoing webhooks as {name, events}."""
    hooks = getattr(config.integrations, "outgoing_webhooks", None) or []
    return [{"name": h.name, "events": list(getattr(h, "events", []) or [])} for h in hooks]


def smtp_executives(config: WarroomConfig) -> list[str]:
    """Return the executive list kept with the SMTP settings, if any."""
    smtp = getattr(config.integrations, "smtp", None)
    return [str(a) for a in getattr(smtp, "executives", []) or []]
