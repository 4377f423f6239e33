"""The audit log for admins: its entries, newest first, and the head of its chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from warroom.api.deps import DB_INT_MAX, Admin, RuntimeDep
from warroom.api.errors import ERROR_RESPONSES
from warroom.audit import service as audit
from warroom.audit.schemas import AuditEntryOut, AuditHeadOut, AuditPage
from warroom.core import durations

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)

When = Query(max_length=64, description="A duration ago (`24h`, `7d`) or ISO 8601.")


@router.get("", response_model=AuditPage)
def list_entries(
    runtime: RuntimeDep,
    principal: Admin,
    since: Annotated[str | None, When] = None,
    until: Annotated[str | None, When] = None,
    actor: Annotated[str | None, Query(max_length=255)] = None,
    action: Annotated[
        str | None,
        Query(max_length=64, description="`signin.failed`, or a family: `signin.` / `signin*`"),
    ] = None,
    target: Annotated[str | None, Query(max_length=255, description="INC-7, a user…")] = None,
    before: Annotated[
        int | None, Query(ge=1, le=DB_INT_MAX, description="next_before of the newer page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """List audit entries, newest first (admins; the reading is audited too)."""
    now = runtime.clock.now()
    rows, (seq, digest), more = audit.read_page(
        runtime.db,
        reader=principal.name,
        at=now,
        limit=limit,
        since=durations.moment(since, field="since", now=now) if since else None,
        until=durations.moment(until, field="until", now=now) if until else None,
        actor=actor,
        action=action,
        target=target,
        before=before,
    )
    return AuditPage(
        entries=[AuditEntryOut.of(row) for row in rows],
        next_before=rows[-1].seq if more and rows else None,
        head=AuditHeadOut(seq=seq, hash=digest),
    )


@router.get("/head", response_model=AuditHeadOut)
def chain_head(runtime: RuntimeDep, _admin: Admin) -> AuditHeadOut:
    """Return the chain's newest position and hash, to keep outside warroom (admins)."""
    with runtime.db.reading() as connection:
        seq, digest = audit.head(connection)
    return AuditHeadOut(seq=seq, hash=digest)
