"""The audit log for admins: entries newest first, with filters, and a check of the chain."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import DB_INT_MAX
from warroom.audit import service as audit
from warroom.audit.verify import Verdict, verify
from warroom.core import durations
from warroom.core.errors import Invalid
from warroom.web.page import Admin, PageRoute, Viewer, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 100
Text = Annotated[str, Query(max_length=255)]
FILTERS = ("since", "actor", "action", "target")


def shown(value: Any) -> str:
    """Return a detail's value as a person reads it (no Python `None` or `True`)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(shown(item) for item in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{key}={shown(item)}" for key, item in value.items()) or "—"
    return str(value)


def _page(
    request: Request,
    viewer: Viewer,
    chosen: dict[str, str],
    before: int | None,
    verdict: Verdict | None = None,
) -> HTMLResponse:
    runtime = viewer.runtime
    now = runtime.clock.now()
    error = None
    since = None
    if chosen["since"]:
        try:
            since = durations.moment(chosen["since"], field="since", now=now)
        except Invalid as exc:
            error = exc.message
    rows, (seq, digest), more = audit.read_page(
        runtime.db,
        reader=viewer.name,
        at=now,
        limit=PAGE_SIZE,
        since=since,
        actor=chosen["actor"] or None,
        action=chosen["action"] or None,
        target=chosen["target"] or None,
        before=before,
    )
    kept = {key: value for key, value in chosen.items() if value}
    older = f"/audit?{urlencode({**kept, 'before': rows[-1].seq})}" if more and rows else None
    return render(
        request,
        "audit.html",
        viewer,
        status=422 if error else 200,
        rows=rows,
        chosen=chosen,
        error=error,
        head={"seq": seq, "hash": digest},
        older_url=older,
        newest_url=f"/audit?{urlencode(kept)}" if before else None,
        verdict=verdict,
        details={row.seq: [(k, shown(v)) for k, v in row.details.items()] for row in rows},
    )


@router.get("/audit")
def audit_log(
    request: Request,
    viewer: Admin,
    since: Text = "",
    actor: Text = "",
    action: Text = "",
    target: Text = "",
    before: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> HTMLResponse:
    """List audit entries, newest first (admins); reading them is an entry too."""
    chosen = {"since": since, "actor": actor, "action": action, "target": target}
    return _page(request, viewer, chosen, before)


@router.post("/audit/verify")
async def verify_chain(request: Request, viewer: Admin) -> HTMLResponse:
    """Re-hash the whole chain now and show what was found, as `warroom audit verify` does."""
    verdict = await run_in_threadpool(verify, viewer.runtime.db)
    chosen = dict.fromkeys(FILTERS, "")
    return await run_in_threadpool(_page, request, viewer, chosen, None, verdict)
