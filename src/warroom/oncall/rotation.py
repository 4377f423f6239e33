"""Who is on call, and when: shifts at local wall-clock handoffs, restrictions and overrides.

Handoffs and restriction windows are local wall-clock times in the schedule's zone, so a
daily 09:00 handoff stays at 09:00 across daylight-saving changes (that shift lasts 23 or
25 hours). A local time that does not exist (the spring-forward gap) means the first
instant after the gap; one that happens twice (fall-back) means the first occurrence.
Internally instants are naive UTC datetimes; everything returned is aware UTC.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from warroom.oncall.config import (
    CompiledRotation,
    CompiledSchedule,
    CompiledWindow,
    Override,
    Schedule,
)

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_MIDNIGHT = time()

# (start, end, people) with naive UTC instants
_Span = tuple[datetime, datetime, list[str]]


@dataclass(frozen=True, slots=True)
class Shift:
    """One person on call in one layer of a schedule, from `start` to `end` (aware UTC)."""

    schedule: str
    layer: str
    person: str
    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        """Length of the shift."""
        return self.end - self.start


def resolve_local(wall: datetime, zone: ZoneInfo) -> datetime:
    """Return the aware UTC instant of a naive local wall time (gap → its end, fold → first)."""
    return _resolve(wall.replace(tzinfo=None, fold=0), zone).replace(tzinfo=UTC)


def on_call(
    schedule: Schedule, at: datetime, overrides: Sequence[Override] = ()
) -> dict[str, list[str]]:
    """Return, per layer name, the person ids on call at `at` with overrides applied."""
    plan = schedule.compiled
    zone = plan.zone
    instant = _naive_utc(at, "at")
    moment = instant.replace(tzinfo=UTC)
    wall = moment.astimezone(zone).replace(tzinfo=None)
    mine = [o for o in overrides if o.schedule == plan.id and o.start <= moment < o.end]
    result: dict[str, list[str]] = {}
    for name, rotation in plan.layers:
        people: list[str] = []
        if not rotation.windows or _inside_windows(rotation.windows, zone, instant, wall.date()):
            index = _index(rotation, zone, instant, wall)
            people = [rotation.participants[index % len(rotation.participants)]]
        active = [o for o in mine if o.layer == name] if mine else mine
        result[name] = _apply(people, active) if active else people
    return result


def shifts(
    schedule: Schedule,
    start: datetime,
    end: datetime,
    overrides: Sequence[Override] = (),
    layer: str | None = None,
) -> list[Shift]:
    """Return the shifts between `start` and `end` (clipped to them), sorted by start."""
    lo, hi = _naive_utc(start, "start"), _naive_utc(end, "end")
    plan = schedule.compiled
    layers = plan.layers
    if layer is not None:
        layers = tuple(item for item in layers if item[0] == layer)
        if not layers:
            raise ValueError(f"schedule {plan.id!r} has no layer {layer!r}")
    result: list[Shift] = []
    if hi <= lo:
        return result
    for name, rotation in layers:
        spans = _layer_spans(plan, name, rotation, lo, hi, overrides)
        for person, a, b in _merge(spans):
            result.append(
                Shift(plan.id, name, person, a.replace(tzinfo=UTC), b.replace(tzinfo=UTC))
            )
    order = {name: position for position, (name, _) in enumerate(layers)}
    result.sort(key=lambda s: (s.start, order[s.layer], s.person))
    return result


def _naive_utc(value: datetime, name: str) -> datetime:
    """Return an aware datetime as naive UTC; refuse naive input."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value.astimezone(UTC).replace(tzinfo=None)


def _resolve(wall: datetime, zone: ZoneInfo) -> datetime:
    """Return the naive UTC instant of a naive local wall time (gap → its end, fold → first)."""
    first = zone.utcoffset(wall)
    second = zone.utcoffset(wall.replace(fold=1))
    if first is None or second is None:  # pragma: no cover - ZoneInfo always answers
        raise ValueError(f"{zone} gives no offset for {wall}")
    if first >= second:  # an ordinary time, or the first of two (fold=0)
        return wall - first
    # In a gap: the transition lies after `wall - second` and at or before `wall - first`.
    return _transition(wall - second, wall - first, second, zone)


def _transition(before: datetime, after: datetime, offset: timedelta, zone: ZoneInfo) -> datetime:
    """Return the first whole-second UTC instant after `before` whose offset is `offset`."""
    before = before.replace(microsecond=0)  # transitions fall on whole seconds
    low, high = 0, math.ceil((after - before) / _SECOND)
    while high - low > 1:
        middle = (low + high) // 2
        instant = (before + middle * _SECOND).replace(tzinfo=UTC)
        if instant.astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return before + high * _SECOND


def _boundary(rotation: CompiledRotation, zone: ZoneInfo, index: int) -> datetime:
    """Return the naive UTC start of shift `index` (0 = the first handoff on or after start)."""
    return _resolve(rotation.anchor + rotation.step * index, zone)


def _index(rotation: CompiledRotation, zone: ZoneInfo, instant: datetime, wall: datetime) -> int:
    """Return the index of the shift containing `instant` (whose local wall time is `wall`)."""
    index = (wall - rotation.anchor) // rotation.step
    # The handoff of `index` is at or before `wall`, and a wall time resolves to the first
    # instant that reaches it, so that handoff is at or before `instant`: the guess is never
    # too late. After a fall-back the wall clock lags, so it can be early: step forward.
    while instant >= _boundary(rotation, zone, index + 1):
        index += 1
    return index


def _window(window: CompiledWindow, zone: ZoneInfo, day: date) -> tuple[datetime, datetime]:
    """Return the naive UTC instants a restriction window opening on local `day` spans."""
    midnight = datetime.combine(day, _MIDNIGHT)
    return _resolve(midnight + window.opens, zone), _resolve(midnight + window.closes, zone)


def _inside_windows(
    windows: Sequence[CompiledWindow], zone: ZoneInfo, instant: datetime, today: date
) -> bool:
    """Say whether `instant` (local date `today`) falls in any restriction window."""
    for day in (today, today - _DAY):
        weekday = day.weekday()
        for window in windows:
            if weekday in window.days:
                opens, closes = _window(window, zone, day)
                if opens <= instant < closes:
                    return True
    return False


def _restriction_windows(
    windows: Sequence[CompiledWindow], zone: ZoneInfo, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """Return the merged, sorted restriction windows within [lo, hi)."""
    day = lo.replace(tzinfo=UTC).astimezone(zone).date() - _DAY
    last = hi.replace(tzinfo=UTC).astimezone(zone).date()
    raw: list[tuple[datetime, datetime]] = []
    while day <= last:
        for window in windows:
            if day.weekday() in window.days:
                opens, closes = _window(window, zone, day)
                opens, closes = max(opens, lo), min(closes, hi)
                if opens < closes:
                    raw.append((opens, closes))
        day += _DAY
    raw.sort()
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in raw:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def _rotation_spans(
    rotation: CompiledRotation, zone: ZoneInfo, lo: datetime, hi: datetime
) -> list[_Span]:
    """Return the rotation's shifts clipped to [lo, hi), before restrictions and overrides."""
    wall = lo.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    index = _index(rotation, zone, lo, wall)
    people, count = rotation.participants, len(rotation.participants)
    begins = _boundary(rotation, zone, index)
    spans: list[_Span] = []
    while begins < hi:
        ends = _boundary(rotation, zone, index + 1)
        a, b = max(begins, lo), min(ends, hi)
        if a < b:  # a shift swallowed by a DST gap has no length and is skipped
            spans.append((a, b, [people[index % count]]))
        begins, index = ends, index + 1
    return spans


def _clip(spans: list[_Span], windows: list[tuple[datetime, datetime]]) -> list[_Span]:
    """Return the parts of the spans that fall inside the windows (both sorted, disjoint)."""
    clipped: list[_Span] = []
    first = 0
    for a, b, people in spans:
        while first < len(windows) and windows[first][1] <= a:
            first += 1
        position = first
        while position < len(windows) and windows[position][0] < b:
            start, end = max(a, windows[position][0]), min(b, windows[position][1])
            if start < end:
                clipped.append((start, end, people))
            position += 1
    return clipped


def _layer_spans(
    plan: CompiledSchedule,
    name: str,
    rotation: CompiledRotation,
    lo: datetime,
    hi: datetime,
    overrides: Sequence[Override],
) -> list[_Span]:
    """Return who is on call in one layer over [lo, hi), as consecutive spans."""
    spans = _rotation_spans(rotation, plan.zone, lo, hi)
    if rotation.windows:
        spans = _clip(spans, _restriction_windows(rotation.windows, plan.zone, lo, hi))
    relevant = [
        (o, o.start.replace(tzinfo=None), o.end.replace(tzinfo=None))
        for o in overrides
        if o.schedule == plan.id and o.layer == name
    ]
    relevant = [item for item in relevant if item[1] < hi and item[2] > lo]
    if not relevant:
        return spans
    points = {lo, hi}
    for a, b, _ in spans:
        points.update((a, b))
    for _, a, b in relevant:
        points.update((max(a, lo), min(b, hi)))
    ordered = sorted(points)
    result: list[_Span] = []
    position = 0
    for a, b in pairwise(ordered):
        while position < len(spans) and spans[position][1] <= a:
            position += 1
        scheduled: list[str] = []
        if position < len(spans) and spans[position][0] <= a:
            scheduled = spans[position][2]
        active = [o for o, start, end in relevant if start <= a < end]
        people = _apply(scheduled, active) if active else scheduled
        if people:
            result.append((a, b, people))
    return result


def _apply(scheduled: list[str], active: Sequence[Override]) -> list[str]:
    """Apply the overrides covering one instant: the latest-starting replace wins, adds join."""
    people = scheduled
    winner: Override | None = None
    for override in active:
        if override.mode == "replace" and (winner is None or override.start >= winner.start):
            winner = override
    if winner is not None:
        people = [winner.person]
    for override in active:
        if override.mode == "add" and override.person not in people:
            people = [*people, override.person]
    return people


def _merge(spans: list[_Span]) -> list[tuple[str, datetime, datetime]]:
    """Join each person's back-to-back spans into (person, start, end) shifts."""
    done: list[tuple[str, datetime, datetime]] = []
    current: dict[str, list[datetime]] = {}
    for a, b, people in spans:
        for person in list(current):
            window = current[person]
            if person not in people or window[1] != a:
                done.append((person, window[0], window[1]))
                del current[person]
        for person in people:
            if person in current:
                current[person][1] = b
            else:
                current[person] = [a, b]
    done.extend((person, window[0], window[1]) for person, window in current.items())
    return done
