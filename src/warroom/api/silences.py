"""Silence routes: create, list, show, expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from warroom.api.deps import Responder, RuntimeDep, SilenceId, Viewer
from warroom.api.errors import ERROR_RESPONSES
from warroom.core.clock import ensure_utc
from warroom.core.errors import Invalid
from warroom.detection import silences
from warroom.detection.api_schemas import SilenceCreate, SilenceOut

router = APIRouter(prefix="/api/v1/silences", tags=["silences"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SilenceOut)
def create(body: SilenceCreate, runtime: RuntimeDep, principal: Responder) -> SilenceOut:
    """Create a silence (maintenance window)."""
    now = runtime.clock.now()
    starts = ensure_utc(body.starts_at) if body.starts_at else now
    if (body.ends_at is None) == (body.duration_minutes is None):
        raise Invalid("give exactly one of ends_at and duration_minutes", {"field": "ends_at"})
    ends = (
        ensure_utc(body.ends_at)
        if body.ends_at
        else starts + timedelta(minutes=body.duration_minutes or 0)
    )
    with runtime.db.transaction() as session:
        silence = silences.create(
            session,
            matchers=body.matchers,
            starts_at=starts,
            ends_at=ends,
            comment=body.comment,
            created_by=principal.name,
            now=now,
        )
        return SilenceOut.of(silence, silences.state_of(silence, now))


@router.get("", response_model=list[SilenceOut])
def list_silences(
    runtime: RuntimeDep,
    _principal: Viewer,
    state: Annotated[Literal["active", "pending", "expired", "all"], Query()] = "active",
) -> list[SilenceOut]:
    """List silences by state (default: active now)."""
    now = runtime.clock.now()
    with runtime.db.session() as session:
        rows = silences.list_silences(session, now=now, state=state)
        return [SilenceOut.of(s, silences.state_of(s, now)) for s in rows]


@router.get("/{silence_id}", response_model=SilenceOut)
def show(silence_id: SilenceId, runtime: RuntimeDep, _principal: Viewer) -> SilenceOut:
    """Show one silence."""
    now = runtime.clock.now()
    with runtime.db.session() as session:
        silence = silences.get(session, silence_id)
        return SilenceOut.of(silence, silences.state_of(silence, now))


@router.post("/{silence_id}/expire", response_model=SilenceOut)
def expire(silence_id: SilenceId, runtime: RuntimeDep, principal: Responder) -> SilenceOut:
    """End a silence now; alerts still firing open incidents on their next delivery."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        silence = silences.expire(session, silence_id=silence_id, now=now, actor=principal.name)
        return SilenceOut.of(silence, silences.state_of(silence, now))
