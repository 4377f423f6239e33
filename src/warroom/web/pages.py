"""Mount the web pages and their static files on the app."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from warroom.web import (
    ack_pages,
    alert_pages,
    audit_pages,
    board,
    drill_forms,
    escalation_pages,
    events,
    evidence_pages,
    heartbeat_pages,
    incident_forms,
    incident_pages,
    metrics_pages,
    oncall_pages,
    postmortem_pages,
    profile_pages,
    report_pages,
    room_forms,
    runbook_pages,
    search_pages,
    signin_pages,
    status_pages,
)
from warroom.web.page import error_page
from warroom.web.templating import STATIC


class CachedStatic(StaticFiles):
    """Static files, cached for a year: their URLs carry a hash of their content."""

    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        """Serve the file with a long cache lifetime."""
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


# The signed-in pages (tests/web/test_page_access.py checks each route of each).
PAGE_ROUTERS = (
    signin_pages.router,
    board.router,
    incident_forms.router,  # before incident_pages: POST /incidents/acknowledge is no {ref}
    room_forms.router,
    evidence_pages.router,
    postmortem_pages.router,  # before incident_pages: /incidents/{ref}/postmortem…
    incident_pages.router,
    metrics_pages.router,
    profile_pages.router,
    report_pages.router,
    alert_pages.router,
    heartbeat_pages.router,
    runbook_pages.router,
    oncall_pages.router,
    escalation_pages.router,
    audit_pages.router,
    drill_forms.router,
    search_pages.router,
)


def install(app: FastAPI) -> None:
    """Add the public status page, every page router and `/static`."""
    app.state.error_page = error_page  # a form's 413 (api/middleware.py) is a page too
    app.include_router(status_pages.router)
    app.include_router(ack_pages.router)  # the one-click link of a page: the link signs in
    app.include_router(events.router)  # the live stream (SSE) the pages listen to
    for router in PAGE_ROUTERS:
        app.include_router(router)
    app.mount("/static", CachedStatic(directory=STATIC), name="static")
