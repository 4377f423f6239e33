"""iCalendar (RFC 5545) feeds of on-call shifts, for calendar apps to subscribe to."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from icalendar import Calendar, Event

from warroom.core.text import show_bidi
from warroom.oncall.rotation import Shift

PRODID = "-//warroom//on-call schedules//EN"


def shift_uid(shift: Shift) -> str:
    """Return the event UID of a shift: stable for its schedule, layer, person and start."""
    start = shift.start.astimezone(UTC)
    return f"{shift.schedule}/{shift.layer}/{shift.person}/{start:%Y%m%dT%H%M%SZ}@warroom"


def to_ical(
    shifts: list[Shift],
    *,
    name: str,
    people: Mapping[str, str] | None = None,
    stamp: datetime | None = None,
) -> bytes:
    """Render shifts as a VCALENDAR with one VEVENT each (`people` maps ids to names)."""
    names = people or {}
    stamped = (stamp or datetime.now(UTC)).astimezone(UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    for shift in shifts:
        # A calendar shows the name as text; a bidi control in it would reorder it unseen.
        who = show_bidi(names.get(shift.person) or shift.person)
        event = Event()
        event.add("uid", shift_uid(shift))
        event.add("dtstamp", stamped)
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("summary", f"On call: {who} ({shift.layer})")
        event.add(
            "description",
            f"{who} ({shift.person}) is on call in layer {shift.layer} "
            f"of schedule {shift.schedule}.",
        )
        event.add("categories", ["on-call"])
        # On-call time is not busy time: keep free/busy lookups usable.
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    body: bytes = calendar.to_ical()
    return body
