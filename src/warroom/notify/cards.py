"""Snapshots of an incident for messages, stored in outbox payloads as plain JSON."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from warroom.core.clock import ensure_utc
from warroom.core.text import drill_title
from warroom.notify.ports import IncidentCard

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

CARD_FIELDS = tuple(f.name for f in fields(IncidentCard))


def card_of(incident: Any, config: WarroomConfig, base_url: str | None) -> IncidentCard:
    """Build the card of an incident (a model or a row with its columns) as it is now."""
    # Built straight from the columns: the engine makes thousands of these per tick.
    severity = config.severities.get(incident.severity)
    commander = config.person(incident.commander) if incident.commander else None
    links = incident.links or {}
    detected = incident.detected_at
    drill = getattr(incident, "drill_id", None) is not None
    return IncidentCard(
        number=incident.number,
        # Every message takes its title from here: a drill's says so, whatever was edited.
        title=drill_title(incident.title) if drill else incident.title,
        severity=incident.severity,
        severity_name=severity.name if severity else incident.severity,
        status=incident.status,
        summary=incident.summary or "",
        service=incident.service,
        commander=incident.commander,
        commander_name=commander.name if commander else incident.commander,
        url=f"{base_url.rstrip('/')}/incidents/{incident.number}" if base_url else None,
        conference_url=links.get("conference_url"),
        chat_channel=links.get("chat_channel"),
        visibility=incident.visibility,
        detected_at=ensure_utc(detected) if detected is not None else None,
        drill=drill,
    )


def codename(card: IncidentCard) -> IncidentCard:
    """Return the card as those outside a restricted incident may read it: its reference with
    `(restricted)` for a title, no summary (webhooks, executive e-mail): `INC-42 (restricted)`."""
    # The channel's name carries words of the title (#inc-42-card-data-exposed).
    title = drill_title("(restricted)") if card.drill else "(restricted)"
    return replace(card, title=title, summary="", chat_channel=None)


def card_to_json(card: IncidentCard) -> dict[str, Any]:
    """Turn a card into JSON for the outbox."""
    data = {name: getattr(card, name) for name in CARD_FIELDS}  # asdict() deep-copies: slow
    if not card.drill:  # only a drill's card says so: real ones are stored as they were
        del data["drill"]
    if card.detected_at is not None:
        data["detected_at"] = card.detected_at.isoformat()
    return data


def card_from_json(data: dict[str, Any]) -> IncidentCard:
    """Read a card back from an outbox payload (unknown keys are ignored)."""
    values = {k: v for k, v in data.items() if k in CARD_FIELDS}
    if isinstance(values.get("detected_at"), str):
        values["detected_at"] = ensure_utc(datetime.fromisoformat(values["detected_at"]))
    return IncidentCard(**values)
