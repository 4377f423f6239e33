"""iCal export: an RFC 5545 calendar that `icalendar` parses back to the same shifts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar

from warroom.oncall.config import Override, Schedule
from warroom.oncall.ical import shift_uid, to_ical
from warroom.oncall.rotation import Shift, shifts

STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BERLIN = Schedule.model_validate(
    {
        "id": "payments",
        "timezone": "Europe/Berlin",
        "layers": [
            {"name": "primary", "rotation": {"every": "1d", "participants": ["alice", "bob"]}},
            {
                "name": "secondary",
                "rotation": {"every": "1w", "handoff": "Mon 09:00", "participants": ["carol"]},
            },
        ],
    }
)
NAMES = {"alice": "Alice Ng", "bob": "Bob Ruiz"}


def events(body: bytes) -> list[Any]:
    """Parse a calendar and return its VEVENTs."""
    calendar = Calendar.from_ical(body)
    assert calendar.name == "VCALENDAR"
    return list(calendar.walk("VEVENT"))


def test_spring_forward_week_round_trips() -> None:
    start, end = datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    found = shifts(BERLIN, start, end)
    body = to_ical(found, name="payments", people=NAMES, stamp=STAMP)
    parsed = events(body)
    assert len(parsed) == len(found) == 6  # 5 primary pieces, one secondary (carol all along)
    for event, shift in zip(parsed, found, strict=True):
        assert event.decoded("DTSTART") == shift.start
        assert event.decoded("DTEND") == shift.end
        assert event.decoded("DTSTAMP") == STAMP
        who = NAMES.get(shift.person, shift.person)
        assert str(event["SUMMARY"]) == f"On call: {who} ({shift.layer})"
        assert str(event["UID"]) == shift_uid(shift)
    # the shift containing the change is 23 hours long, from 09:00 CET to 09:00 CEST
    spring = [e for e in parsed if e.decoded("DTSTART") == datetime(2026, 3, 28, 8, tzinfo=UTC)]
    assert [e.decoded("DTEND") for e in spring] == [datetime(2026, 3, 29, 7, tzinfo=UTC)]
    assert b"DTSTART:20260328T080000Z" in body
    assert b"SUMMARY:On call: carol (secondary)" in body


def test_calendar_properties_and_line_endings() -> None:
    body = to_ical(shifts(BERLIN, STAMP, STAMP + timedelta(days=2)), name="payments", stamp=STAMP)
    calendar = Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]).startswith("-//warroom//")
    assert str(calendar["X-WR-CALNAME"]) == "payments"
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and body.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))  # folded as RFC 5545 asks
    [first] = [e for e in events(body) if str(e["SUMMARY"]) == "On call: alice (primary)"]
    assert str(first["TRANSP"]) == "TRANSPARENT"


def test_uids_are_stable_and_unique() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    first = events(to_ical(shifts(BERLIN, start, start + timedelta(days=14)), name="p"))
    again = events(to_ical(shifts(BERLIN, start, start + timedelta(days=21)), name="p"))
    uids = [str(e["UID"]) for e in first]
    assert len(set(uids)) == len(uids)
    assert set(uids) <= {str(e["UID"]) for e in again}
    assert "payments/primary/alice/" in " ".join(uids)


def test_overrides_show_up_as_their_own_events() -> None:
    start = datetime(2026, 6, 1, 7, tzinfo=UTC)
    cover = Override(
        "payments", "primary", start + timedelta(hours=2), start + timedelta(hours=4), "dave"
    )
    found = shifts(BERLIN, start, start + timedelta(days=1), [cover], layer="primary")
    parsed = events(to_ical(found, name="payments", people={"dave": "Dave O'Neil, SRE"}))
    summaries = [str(e["SUMMARY"]) for e in parsed]
    assert summaries.count("On call: Dave O'Neil, SRE (primary)") == 1
    assert len(parsed) == 3  # the covered shift is split around the override


def test_empty_and_escaped() -> None:
    assert events(to_ical([], name="nobody")) == []
    odd = Shift(
        "s", "primary", "a", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    )
    body = to_ical([odd], name="s", people={"a": "Ann; Lee\nJr"})
    [event] = events(body)
    assert str(event["SUMMARY"]) == "On call: Ann; Lee\nJr (primary)"
    assert b"Ann\\; Lee\\nJr" in body
