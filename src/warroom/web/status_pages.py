"""The public status page (`GET /status`) and its Atom feed: no sign-in, public incidents only."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from warroom.api import links
from warroom.api.deps import RuntimeDep
from warroom.status import feed, service
from warroom.status.schemas import PublicComponent, PublicStatus
from warroom.web.templating import shown, static_url

TEMPLATES = Path(__file__).resolve().parent / "templates"
# Shared caches may keep the page briefly: it is the same for everyone and polled in outages.
CACHE = {"Cache-Control": "public, max-age=15"}
# The page is the app's stylesheet and text: no script, no inline style, nothing to post, no
# framing. Tighter than the signed-in pages' policy, which allows their script.
PAGE_HEADERS = {
    **CACHE,
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
LABELS = {
    "operational": "Operational",
    "under_maintenance": "Under maintenance",
    "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "investigating": "Investigating",
    "identified": "Identified",
    "monitoring": "Monitoring",
    "resolved": "Resolved",
}

router = APIRouter(include_in_schema=False)


@cache
def environment() -> Environment:
    """Return the Jinja2 environment (autoescaped: every text on the page comes from people)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown,  # bidi controls shown, as on every page
    )
    env.filters["label"] = lambda value: LABELS.get(value, str(value))
    env.filters["when"] = _when
    env.globals["static"] = static_url
    return env


def _when(value: datetime | None) -> str:
    """Format a time for people: `2 Mar 2026, 09:15 UTC`."""
    return f"{value.day} {value:%b %Y, %H:%M} UTC" if value else ""


def _groups(components: list[PublicComponent]) -> list[tuple[str | None, list[PublicComponent]]]:
    """Return components under their group names, in configured order (ungrouped: None)."""
    groups: dict[str | None, list[PublicComponent]] = {}
    for component in components:
        groups.setdefault(component.group, []).append(component)
    return list(groups.items())


def _summary(runtime: RuntimeDep) -> tuple[PublicStatus, str]:
    url = links.status_page(runtime)  # never from the Host header: the page is cached
    with runtime.db.session() as session:
        summary = service.public_status(
            session, runtime.config().status_page, runtime.clock.now(), page_url=url
        )
    return summary, url


@router.get("/status", response_class=HTMLResponse, name="status_page")
def status_page(runtime: RuntimeDep) -> HTMLResponse:
    """Render the public status page."""
    summary, url = _summary(runtime)
    html = (
        environment()
        .get_template("status/page.html")
        .render(
            status=summary,
            groups=_groups(summary.components),
            feed_url=f"{url}/feed.atom",
            history_days=runtime.config().status_page.history_days,
        )
    )
    return HTMLResponse(html, headers=PAGE_HEADERS)


@router.get("/status/feed.atom", name="status_feed")
def status_feed(runtime: RuntimeDep) -> Response:
    """Return the public updates as an Atom feed."""
    summary, url = _summary(runtime)
    return Response(
        feed.render(summary, page_url=url), media_type="application/atom+xml", headers=CACHE
    )
