"""On-call routes: who is on call, shifts, iCal feeds, overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from warroom.api.deps import DB_INT_MAX, Calendar, Responder, RuntimeDep, Viewer
from warroom.api.errors import ERROR_RESPONSES
from warroom.config import WarroomConfig
from warroom.core.clock import ensure_utc
from warroom.core.errors import Conflict, Invalid, NotFound
from warroom.oncall import service as oncall
from warroom.oncall.ical import to_ical
from warroom.oncall.schemas import (
    LayerNow,
    OnCallNow,
    OverrideCreate,
    OverrideOut,
    PersonRef,
    ScheduleNow,
    ShiftOut,
)

router = APIRouter(prefix="/api/v1", tags=["on-call"], responses=ERROR_RESPONSES)
ICAL_DAYS_BACK, ICAL_DAYS_AHEAD = 14, 90
CALENDAR_TOKEN = "A calendar token: `warroom tokens create USER --scope calendar`"


def _ical_window(now: datetime) -> tuple[datetime, datetime]:
    """Return the feed's window, starting at a midnight so event UIDs stay stable all day."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=ICAL_DAYS_BACK), midnight + timedelta(days=ICAL_DAYS_AHEAD)


def _person(config: WarroomConfig, person_id: str) -> PersonRef:
    found = config.person(person_id)
    return PersonRef(id=person_id, name=found.name if found else None)


@router.get("/oncall", response_model=OnCallNow)
def who_is_on_call(
    runtime: RuntimeDep,
    _principal: Viewer,
    at: Annotated[datetime | None, Query(description="ISO time; default now")] = None,
    schedule: Annotated[list[str] | None, Query(description="Only these schedules")] = None,
) -> OnCallNow:
    """Who is on call now (or at `at`), per schedule and layer, overrides applied."""
    config = runtime.config()
    when = ensure_utc(at) if at else runtime.clock.now()
    remote = config.pagerduty_schedules()
    wanted = schedule or [s.id for s in config.schedules] + remote
    unknown = [s for s in wanted if not config.has_schedule(s)]
    if unknown:
        raise NotFound(
            f"no schedule {unknown[0]!r} (known: "
            f"{', '.join([s.id for s in config.schedules] + remote) or 'none'})"
        )
    local_ids = [s for s in wanted if s not in remote]
    answers: dict[str, ScheduleNow] = {}
    if local_ids:
        with runtime.db.session() as session:
            found = oncall.now_on_call(session, config=config, at=when, schedule_ids=local_ids)
        for s, layers in found:
            answers[s.id] = _schedule_now(config, s.id, s.timezone, layers)
    client = runtime.pagerduty_oncall()
    remote_ids = [s for s in wanted if s in remote]
    if client is not None and remote_ids:
        # PagerDuty keeps its own overrides; warroom's overrides apply to local schedules only.
        for schedule_id, layers in client.schedules_on_call(when, remote_ids).items():
            answers[schedule_id] = _schedule_now(config, schedule_id, "UTC", layers)
    return OnCallNow(at=when, schedules=[answers[s] for s in wanted if s in answers])


def _schedule_now(
    config: WarroomConfig, schedule_id: str, timezone: str, layers: dict[str, list[str]]
) -> ScheduleNow:
    return ScheduleNow(
        id=schedule_id,
        timezone=timezone,
        layers=[
            LayerNow(name=name, on_call=[_person(config, p) for p in people])
            for name, people in layers.items()
        ],
    )


def _local_only(config: WarroomConfig, schedule_id: str) -> None:
    """Shifts and calendars come from warroom's own rotations, not from PagerDuty."""
    if schedule_id in config.pagerduty_schedules():
        raise Conflict(f"schedule {schedule_id!r} lives in PagerDuty; see its shifts there")


@router.get("/schedules/{schedule_id}/shifts", response_model=list[ShiftOut])
def schedule_shifts(
    schedule_id: str,
    runtime: RuntimeDep,
    _principal: Viewer,
    start: Annotated[datetime | None, Query(description="Default: now")] = None,
    days: Annotated[int, Query(ge=1, le=400)] = 14,
    layer: Annotated[str | None, Query()] = None,
) -> list[ShiftOut]:
    """Upcoming shifts of a schedule."""
    config = runtime.config()
    _local_only(config, schedule_id)
    begin = ensure_utc(start) if start else runtime.clock.now()
    with runtime.db.session() as session:
        found = oncall.schedule_shifts(
            session,
            config=config,
            schedule_id=schedule_id,
            start=begin,
            end=begin + timedelta(days=days),
            layer=layer,
        )
    zone = oncall.schedule(config, schedule_id).timezone
    return [
        ShiftOut(
            schedule=schedule_id,
            timezone=zone,
            layer=s.layer,
            person=_person(config, s.person),
            start=s.start,
            end=s.end,
        )
        for s in found
    ]


_ICAL: dict[int | str, dict[str, Any]] = {
    200: {"description": "An RFC 5545 calendar", "content": {"text/calendar": {}}}
}


@router.get("/schedules/{schedule_id}/ical", response_class=Response, responses=_ICAL)
def schedule_ical(
    schedule_id: str,
    runtime: RuntimeDep,
    _principal: Calendar,
    token: Annotated[str | None, Query(description=CALENDAR_TOKEN)] = None,
) -> Response:
    """The schedule's shifts from two weeks ago to three months ahead, as iCal."""
    now = runtime.clock.now()
    config = runtime.config()
    _local_only(config, schedule_id)
    with runtime.db.session() as session:
        found = oncall.schedule_shifts(
            session,
            config=config,
            schedule_id=schedule_id,
            start=_ical_window(now)[0],
            end=_ical_window(now)[1],
        )
    names = {p.id: p.name for p in config.people}
    body = to_ical(found, name=schedule_id, people=names, stamp=now)
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.get("/people/{person_id}/ical", response_class=Response, responses=_ICAL)
def person_ical(
    person_id: str,
    runtime: RuntimeDep,
    _principal: Calendar,
    token: Annotated[str | None, Query(description=CALENDAR_TOKEN)] = None,
) -> Response:
    """One person's shifts across every schedule, as iCal."""
    now = runtime.clock.now()
    config = runtime.config()
    with runtime.db.session() as session:
        pairs = oncall.person_shifts(
            session,
            config=config,
            person=person_id,
            start=_ical_window(now)[0],
            end=_ical_window(now)[1],
        )
    names = {p.id: p.name for p in config.people}
    body = to_ical([shift for _, shift in pairs], name=person_id, people=names, stamp=now)
    return Response(body, media_type="text/calendar; charset=utf-8")


@router.post("/oncall/overrides", status_code=status.HTTP_201_CREATED, response_model=OverrideOut)
def create_override(body: OverrideCreate, runtime: RuntimeDep, principal: Responder) -> OverrideOut:
    """Cover a shift (replace) or join a layer (add) for a window."""
    config = runtime.config()
    found = oncall.schedule(config, body.schedule)
    if found.layer(body.layer) is None:
        layers = ", ".join(layer.name for layer in found.layers)
        raise Invalid(
            f"schedule {body.schedule!r} has no layer {body.layer!r}; use {layers}",
            {"field": "layer"},
        )
    if config.person(body.person) is None:
        raise Invalid(
            f"unknown person {body.person!r} (add it under people: in warroom.yaml)",
            {"field": "person"},
        )
    if (body.ends_at is None) == (body.duration_minutes is None):
        raise Invalid("give exactly one of ends_at and duration_minutes", {"field": "ends_at"})
    now = runtime.clock.now()
    starts = ensure_utc(body.starts_at) if body.starts_at else now
    ends = (
        ensure_utc(body.ends_at)
        if body.ends_at
        else starts + timedelta(minutes=body.duration_minutes or 0)
    )
    with runtime.db.transaction() as session:
        row = oncall.create_override(
            session,
            schedule=body.schedule,
            layer=body.layer,
            person=body.person,
            mode=body.mode,
            starts_at=starts,
            ends_at=ends,
            reason=body.reason,
            created_by=principal.name,
            now=now,
        )
        return OverrideOut.of(row)


@router.get("/oncall/overrides", response_model=list[OverrideOut])
def list_overrides(
    runtime: RuntimeDep,
    _principal: Viewer,
    schedule: Annotated[str | None, Query()] = None,
    days: Annotated[int, Query(ge=1, le=400, description="From now, this many days")] = 30,
) -> list[OverrideOut]:
    """Overrides that are in force now or start within `days`."""
    now = runtime.clock.now()
    with runtime.db.session() as session:
        rows = oncall.overlapping_overrides(
            session,
            start=now,
            end=now + timedelta(days=days),
            schedules=[schedule] if schedule else None,
        )
        return [OverrideOut.of(r) for r in rows]


@router.delete("/oncall/overrides/{override_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_override(override_id: int, runtime: RuntimeDep, _principal: Responder) -> Response:
    """Remove an override."""
    if not 1 <= override_id <= DB_INT_MAX:
        raise NotFound(f"no override {override_id}")
    with runtime.db.transaction() as session:
        oncall.delete_override(session, override_id=override_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
