"""A schedule's calendar: its shifts cut into days in the schedule's zone, overrides marked,
and the template helpers that show a time in the schedule's zone and the viewer's side by side."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from markupsafe import Markup

from warroom.core.errors import Invalid
from warroom.oncall.config import Schedule
from warroom.oncall.models import OverrideRow
from warroom.oncall.rotation import Shift, resolve_local
from warroom.web.templating import zone_named

DAYS = 14  # a calendar page, and "my shifts", cover two weeks


@dataclass(frozen=True)
class Piece:
    """A part of one shift within one calendar day."""

    layer: str
    person: str
    start: datetime
    end: datetime
    override: bool


@dataclass
class Day:
    """One day of the calendar, in the schedule's zone."""

    day: date
    start: datetime
    end: datetime
    layers: dict[str, list[Piece]] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        """Return the day's length in hours (23 or 25 on a daylight-saving change)."""
        return (self.end - self.start) / timedelta(hours=1)


def both_zones(schedule_zone: ZoneInfo, viewer_zone: ZoneInfo):  # type: ignore[no-untyped-def]
    """Return a template helper: a time in the schedule's zone and the viewer's, side by side."""

    def show(value: datetime, style: str = "long") -> Markup:
        there = value.astimezone(schedule_zone)
        here = value.astimezone(viewer_zone)
        utc = value.astimezone(UTC)
        stamp = utc.isoformat().replace("+00:00", "Z")
        title = f"{utc.day} {utc:%b %Y, %H:%M} UTC"

        def words(local: datetime) -> str:
            if style == "short":
                return f"{local:%H:%M} {local.tzname()}"
            return f"{local:%a} {local.day} {local:%b, %H:%M} {local.tzname()}"

        if schedule_zone.key == viewer_zone.key:
            return Markup('<time datetime="{}" title="{}">{}</time>').format(
                stamp, title, words(there)
            )
        return Markup(
            '<time datetime="{}" title="{}">{}</time> <small class="yours">(your time: {})</small>'
        ).format(stamp, title, words(there), words(here))

    return show


def _stamp(value: datetime) -> str:
    """Return an instant as ISO 8601 in UTC with a Z, for <time datetime>."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def span_zones(schedule_zone: ZoneInfo, viewer_zone: ZoneInfo):  # type: ignore[no-untyped-def]
    """Return a template helper: a piece's times in the schedule's zone, and in the viewer's."""

    def clock(value: datetime, zone: ZoneInfo, day: date, *, end_of_day: bool = False) -> Markup:
        local = value.astimezone(zone)
        text = "24:00" if end_of_day else f"{local:%H:%M}"
        if not end_of_day and local.date() != day:
            text = f"{local:%a} {text}"
        utc = value.astimezone(UTC)
        return Markup('<time datetime="{}" title="{}">{} {}</time>').format(
            _stamp(value), f"{utc:%d %b %Y, %H:%M} UTC", text, local.tzname()
        )

    def show(piece: Piece, day: Day) -> Markup:
        there = Markup("{}–{}").format(
            clock(piece.start, schedule_zone, day.day),
            clock(piece.end, schedule_zone, day.day, end_of_day=piece.end == day.end),
        )
        if schedule_zone.key == viewer_zone.key:
            return there
        here = Markup("{}–{}").format(
            clock(piece.start, viewer_zone, day.day), clock(piece.end, viewer_zone, day.day)
        )
        return Markup(
            '<span class="there">{}</span> <small class="yours">(your time: {})</small>'
        ).format(there, here)

    return show


def first_day(start: str | None, zone: ZoneInfo, now: datetime) -> date:
    """Return the calendar's first day: `start` (a date), or today in the schedule's zone."""
    if not start:
        return now.astimezone(zone).date()
    try:
        return date.fromisoformat(start)
    except ValueError:
        raise Invalid(
            f"start {start!r} must be a date like 2026-03-23", {"field": "start"}
        ) from None


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """Return the instant a day begins in a zone (a midnight in a gap: the gap's end)."""
    return resolve_local(datetime.combine(day, time()), zone)


def calendar_days(
    schedule: Schedule, first: date, shifts: list[Shift], rows: list[OverrideRow]
) -> list[Day]:
    """Cut the shifts into the schedule's calendar days, marking the parts an override holds."""
    zone = zone_named(schedule.timezone)
    days = []
    for offset in range(DAYS):
        day = first + timedelta(days=offset)
        begin, end = midnight(day, zone), midnight(day + timedelta(days=1), zone)
        found = Day(day, begin, end, {layer.name: [] for layer in schedule.layers})
        for shift in shifts:
            lo, hi = max(shift.start, begin), min(shift.end, end)
            if lo >= hi:
                continue
            found.layers.setdefault(shift.layer, []).extend(_pieces(shift, lo, hi, rows))
        for pieces in found.layers.values():
            pieces.sort(key=lambda piece: (piece.start, piece.person))
        days.append(found)
    return days


def _pieces(shift: Shift, lo: datetime, hi: datetime, rows: list[OverrideRow]) -> list[Piece]:
    """Split [lo, hi) of a shift where an override of its layer and person begins or ends."""
    covering = [r for r in rows if r.layer == shift.layer and r.person == shift.person]
    cuts = sorted({lo, hi, *(t for r in covering for t in (r.starts_at, r.ends_at) if lo < t < hi)})
    pieces: list[Piece] = []
    for a, b in pairwise(cuts):
        held = any(r.starts_at <= a and b <= r.ends_at for r in covering)
        if pieces and pieces[-1].override == held:
            pieces[-1] = Piece(shift.layer, shift.person, pieces[-1].start, b, held)
        else:
            pieces.append(Piece(shift.layer, shift.person, a, b, held))
    return pieces
