"""The on-call pages: who is on call now, a schedule's two-week calendar, overrides, my shifts.

Times in a schedule are shown twice, side by side: in the schedule's own zone (its handoffs
follow that zone's wall clock, so a daily 09:00 handoff stays at 09:00 across a daylight-saving
change) and in the viewer's zone. A calendar's days are the schedule's days. An override is
marked by an icon and the word "override", never by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from warroom.api import links
from warroom.api.deps import DB_INT_MAX
from warroom.config import WarroomConfig
from warroom.core.errors import Conflict, Invalid, NotFound, WarroomError
from warroom.oncall import service as oncall
from warroom.oncall.config import Schedule
from warroom.oncall.models import OverrideRow
from warroom.oncall.rotation import Shift, resolve_local
from warroom.web.oncall_calendar import (
    DAYS,
    both_zones,
    calendar_days,
    first_day,
    midnight,
    span_zones,
)
from warroom.web.page import PageRoute, Responder, SignedIn, Viewer, render, see_other
from warroom.web.templating import zone_named

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Short = Annotated[str, Form(max_length=64)]
Stamp = Annotated[str, Form(max_length=32)]


@dataclass(frozen=True)
class LayerNow:
    """One layer of a schedule now: who holds it, until when, and who is next."""

    name: str
    people: list[str]
    until: datetime | None
    next_at: datetime | None
    next_people: list[str]


@dataclass(frozen=True)
class ScheduleNow:
    """A schedule with each layer's holder now (PagerDuty's: no calendar here)."""

    id: str
    zone: str
    layers: list[LayerNow]
    remote: bool = False
    problem: str | None = None


def _names(config: WarroomConfig) -> dict[str, str]:
    return {person.id: person.name for person in config.people}


def _layers_now(config: WarroomConfig, viewer: Viewer, now: datetime) -> list[ScheduleNow]:
    runtime = viewer.runtime
    rows: list[ScheduleNow] = []
    with runtime.db.session() as session:
        for schedule, layers in oncall.now_on_call(session, config=config, at=now):
            shifts = oncall.schedule_shifts(
                session,
                config=config,
                schedule_id=schedule.id,
                start=now,
                end=now + timedelta(days=DAYS),
            )
            found = []
            for layer in schedule.layers:
                mine = [s for s in shifts if s.layer == layer.name]
                current = [s for s in mine if s.start <= now < s.end]
                upcoming = [s for s in mine if s.start > now]
                until = min((s.end for s in current), default=None)
                if until is not None and until >= now + timedelta(days=DAYS):
                    until = None  # cut at the end of the window asked: not a handoff
                next_at = min((s.start for s in upcoming), default=None)
                found.append(
                    LayerNow(
                        name=layer.name,
                        people=sorted(layers.get(layer.name, [])),
                        until=until,
                        next_at=next_at,
                        next_people=sorted({s.person for s in upcoming if s.start == next_at}),
                    )
                )
            rows.append(ScheduleNow(schedule.id, schedule.timezone, found))
    for schedule_id in config.pagerduty_schedules():
        try:
            layers = runtime.on_call_at(schedule_id, now)
        except Exception:  # PagerDuty is down: say so rather than fail the page
            rows.append(ScheduleNow(schedule_id, "UTC", [], True, "PagerDuty did not answer"))
            continue
        rows.append(
            ScheduleNow(
                schedule_id,
                "UTC",
                [LayerNow(name, sorted(people), None, None, []) for name, people in layers.items()],
                remote=True,
            )
        )
    return rows


def _base(request: Request) -> str:
    return links.site(request.app.state.runtime)  # never from the Host header


@router.get("/oncall")
def oncall_page(request: Request, viewer: SignedIn) -> HTMLResponse:
    """Show who is on call now on every schedule, the next handoffs, and my shifts."""
    runtime = viewer.runtime
    config = runtime.config()
    now = runtime.clock.now()
    me = config.person(viewer.name)
    mine: list[tuple[Schedule, Shift]] = []
    if me is not None:
        with runtime.db.session() as session:
            mine = oncall.person_shifts(
                session, config=config, person=me.id, start=now, end=now + timedelta(days=DAYS)
            )
    shown = {s.id: both_zones(zone_named(s.timezone), viewer.zone) for s in config.schedules}
    in_utc = both_zones(zone_named("UTC"), viewer.zone)  # PagerDuty's schedules
    return render(
        request,
        "oncall/now.html",
        viewer,
        schedules=_layers_now(config, viewer, now),
        names=_names(config),
        me=me,
        mine=mine,
        days=DAYS,
        both=lambda value, schedule_id: shown.get(schedule_id, in_utc)(value),
        base=_base(request),
    )


def _schedule_page(
    request: Request,
    viewer: Viewer,
    schedule_id: str,
    start: str | None,
    *,
    status: int = 200,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    runtime = viewer.runtime
    config = runtime.config()
    if schedule_id in config.pagerduty_schedules():
        raise Conflict(f"schedule {schedule_id!r} lives in PagerDuty; see its calendar there")
    schedule = oncall.schedule(config, schedule_id)
    zone = zone_named(schedule.timezone)
    now = runtime.clock.now()
    first = first_day(start, zone, now)
    if not date(1900, 1, 1) < first < date(2999, 1, 1):
        raise Invalid("start must be a date between 1900 and 2999", {"field": "start"})
    begin, end = midnight(first, zone), midnight(first + timedelta(days=DAYS), zone)
    with runtime.db.session() as session:
        shifts = oncall.schedule_shifts(
            session, config=config, schedule_id=schedule.id, start=begin, end=end
        )
        rows = oncall.overlapping_overrides(session, start=begin, end=end, schedules=[schedule.id])
        for row in rows:
            session.expunge(row)
    next_hour = now.astimezone(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    defaults = {
        "layer": schedule.layers[0].name,
        "person": viewer.name if config.person(viewer.name) else "",
        "mode": "replace",
        "starts": f"{next_hour:%Y-%m-%dT%H:%M}",
        "ends": f"{next_hour + timedelta(hours=12):%Y-%m-%dT%H:%M}",
        "reason": "",
    }
    defaults.update(form or {})
    return render(
        request,
        "oncall/schedule.html",
        viewer,
        status=status,
        error=error,
        schedule=schedule,
        schedule_zone=zone,
        days=calendar_days(schedule, first, shifts, rows),
        overrides=rows,
        first=first,
        prev_start=(first - timedelta(days=DAYS)).isoformat(),
        next_start=(first + timedelta(days=DAYS)).isoformat(),
        today=now.astimezone(zone).date(),
        names=_names(config),
        people=config.people,
        form=defaults,
        both=both_zones(zone, viewer.zone),
        span=span_zones(zone, viewer.zone),
        local_now=now.astimezone(zone),
        base=_base(request),
    )


@router.get("/oncall/{schedule_id}")
def schedule_page(
    schedule_id: Annotated[str, Path(max_length=64)],
    request: Request,
    viewer: SignedIn,
    start: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """Show a schedule's two weeks from `start` (default: today in the schedule's zone)."""
    return _schedule_page(request, viewer, schedule_id, start)


def _safe_start(value: str) -> str:
    """Return a form's `start` if it is a date (it goes into a redirect), else ''."""
    try:
        return date.fromisoformat(value).isoformat() if value else ""
    except ValueError:
        return ""


def _wall(value: str, zone: ZoneInfo, name: str) -> datetime:
    """Read a `datetime-local` value as a wall-clock time in the schedule's zone."""
    try:
        wall = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Invalid(f"{name}: a date and time like 2026-03-28T09:00", {"field": name}) from None
    if wall.tzinfo is not None:
        raise Invalid(f"{name}: give the time without a zone", {"field": name})
    return resolve_local(wall, zone)


def _overlapping(session: Session, new: OverrideRow) -> OverrideRow | None:
    """Return a stored override the new one collides with: the same layer and window, and
    either one replaces the rotation or both add the same person."""
    for row in oncall.overlapping_overrides(
        session, start=new.starts_at, end=new.ends_at, schedules=[new.schedule]
    ):
        if row.id == new.id or row.layer != new.layer:
            continue
        if "replace" in (row.mode, new.mode) or row.person == new.person:
            return row
    return None


@router.post("/oncall/{schedule_id}/overrides")
def add_override(
    schedule_id: Annotated[str, Path(max_length=64)],
    request: Request,
    viewer: Responder,
    person: Short = "",
    layer: Short = "",
    mode: Short = "replace",
    starts: Stamp = "",
    ends: Stamp = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    start: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Add an override; the times are wall-clock times in the schedule's zone."""
    runtime = viewer.runtime
    config = runtime.config()
    schedule = oncall.schedule(config, schedule_id)
    zone = zone_named(schedule.timezone)
    form = {
        "person": person,
        "layer": layer,
        "mode": mode,
        "starts": starts,
        "ends": ends,
        "reason": reason,
    }
    try:
        if schedule.layer(layer) is None:
            layers = ", ".join(item.name for item in schedule.layers)
            raise Invalid(f"schedule {schedule.id!r} has no layer {layer!r}; use {layers}")
        if config.person(person) is None:
            raise Invalid(f"unknown person {person!r} (add them under people: in warroom.yaml)")
        lo, hi = _wall(starts, zone, "from"), _wall(ends, zone, "until")
        if hi <= lo:
            raise Invalid("until must be after from")
        with runtime.db.transaction() as session:
            # The service checks the window and the reason; a clash rolls the row back.
            row = oncall.create_override(
                session,
                schedule=schedule.id,
                layer=layer,
                person=person,
                mode=mode,
                starts_at=lo,
                ends_at=hi,
                reason=reason,
                created_by=viewer.name,
                now=runtime.clock.now(),
            )
            clash = _overlapping(session, row)
            if clash is not None:
                there = f"{clash.starts_at.astimezone(zone):%d %b %H:%M}"
                until = f"{clash.ends_at.astimezone(zone):%d %b %H:%M %Z}"
                raise Conflict(
                    f"it overlaps the override of {clash.person} in {clash.layer} "
                    f"({there} to {until}); remove that one first"
                )
    except WarroomError as exc:
        return _schedule_page(
            request,
            viewer,
            schedule.id,
            start or None,
            status=exc.status,
            error=exc.message,
            form=form,
        )
    shown = _safe_start(start) or lo.astimezone(zone).date().isoformat()
    return see_other(f"/oncall/{schedule.id}?start={shown}#overrides")


@router.post("/oncall/{schedule_id}/overrides/{override_id}/delete")
def remove_override(
    schedule_id: Annotated[str, Path(max_length=64)],
    override_id: Annotated[int, Path(ge=1, le=DB_INT_MAX)],
    request: Request,
    viewer: Responder,
    start: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Remove an override of this schedule."""
    runtime = viewer.runtime
    schedule = oncall.schedule(runtime.config(), schedule_id)
    with runtime.db.transaction() as session:
        row = session.get(OverrideRow, override_id)
        if row is None or row.schedule != schedule.id:
            raise NotFound(f"no override {override_id} in schedule {schedule.id!r}")
        oncall.delete_override(session, override_id=override_id)
    query = f"?start={_safe_start(start)}" if _safe_start(start) else ""
    return see_other(f"/oncall/{schedule.id}{query}#overrides")
