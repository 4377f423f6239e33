"""Alerts and silences: the stored alerts, the silences, a new silence with a preview, expire.

The alert list is `GET /api/v1/alerts` as a page: the same query with the same visibility
condition, so an alert of an incident the viewer may not see is left out here too. A new
silence goes through the silence service the API uses (`detection.silences`); its matchers
are built from the form's rows and checked by the same parser, and a refused form writes
nothing and says why (422).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select

from warroom.api.deps import DB_INT_MAX, SilenceId
from warroom.core.errors import Invalid, WarroomError
from warroom.detection import silences
from warroom.detection.api_schemas import AlertOut, SilenceOut
from warroom.detection.matchers import OPERATORS, Matcher, matches_all, parse_matcher, quote
from warroom.detection.models import Alert
from warroom.detection.queries import list_alerts
from warroom.incidents.models import Incident
from warroom.incidents.visibility import visible
from warroom.web.page import PageRoute, Responder, SignedIn, Viewer, render, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 50
MATCHER_ROWS = 4  # empty rows the form offers, so more than one matcher works without JS
MAX_MATCHERS = 20  # as the API (SilenceCreate.matchers)
PREVIEW_SCAN = 5000  # the newest firing alerts a preview looks through
PREVIEW_SHOWN = 100
STATUSES = ("firing", "resolved", "all")
_DURATION = re.compile(r"(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?", re.IGNORECASE)
Field = Annotated[list[str], Form()]
Text = Annotated[str, Form(max_length=2000)]


@dataclass(frozen=True)
class AlertRow:
    """An alert as the list shows it, with the silence that holds it now, if any."""

    alert: AlertOut
    labels: list[tuple[str, str]]
    silenced_by: int | None  # an active silence that matches it now
    was_silenced_by: int | None  # the silence that held it when it arrived, since ended


@dataclass
class MatcherRow:
    """One row of the new-silence form."""

    label: str = ""
    op: str = "="
    value: str = ""


def _labels(alert: AlertOut) -> list[tuple[str, str]]:
    return sorted((str(key), str(value)) for key, value in alert.labels.items())


@router.get("/alerts")
def alert_list(
    request: Request,
    viewer: SignedIn,
    status: Annotated[str, Query(max_length=16)] = "firing",
    source: Annotated[str, Query(max_length=32)] = "",
    cursor: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> HTMLResponse:
    """List stored alerts, newest first; none of an incident the viewer may not see."""
    if status not in STATUSES:
        raise Invalid(f"unknown status {status!r}; use firing, resolved or all")
    runtime = viewer.runtime
    now = runtime.clock.now()
    with runtime.db.session() as session:
        found, next_cursor = list_alerts(
            session,
            status=None if status == "all" else status,
            source=source or None,
            incident_id=None,
            limit=PAGE_SIZE,
            before_id=cursor,
            visible=visible(runtime.config(), viewer.access),
        )
        holding = silences.ActiveSilences(session, now)
        rows = []
        for alert, number in found:
            out = AlertOut.of(alert, number)
            labels = {str(k): str(v) for k, v in alert.labels.items()}
            held = holding.matching(labels)
            rows.append(
                AlertRow(
                    alert=out,
                    labels=_labels(out),
                    silenced_by=held.id if held else None,
                    was_silenced_by=alert.silence_id if held is None else None,
                )
            )
        sources = sorted(session.scalars(select(Alert.source).distinct()))
    kept = {key: value for key, value in (("status", status), ("source", source)) if value}
    return render(
        request,
        "alerts/list.html",
        viewer,
        rows=rows,
        chosen={"status": status, "source": source},
        statuses=STATUSES,
        sources=sources,
        next_url=f"/alerts?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None,
        first_url=f"/alerts?{urlencode(kept)}" if cursor else None,
    )


def _silences_page(
    request: Request,
    viewer: Viewer,
    *,
    status: int = 200,
    error: str | None = None,
    rows: list[MatcherRow] | None = None,
    form: dict[str, str] | None = None,
    preview: list[AlertOut] | None = None,
    preview_more: bool = False,
) -> HTMLResponse:
    runtime = viewer.runtime
    now = runtime.clock.now()
    with runtime.db.session() as session:
        listed = [
            SilenceOut.of(silence, silences.state_of(silence, now))
            for silence in silences.list_silences(session, now=now, state="all")
        ]
    rows = list(rows or [])
    rows += [MatcherRow() for _ in range(max(MATCHER_ROWS - len(rows), 1))]
    return render(
        request,
        "alerts/silences.html",
        viewer,
        status=status,
        error=error,
        current=[s for s in listed if s.state != "expired"],
        expired=[s for s in listed if s.state == "expired"][:100],
        rows=rows[:MAX_MATCHERS],
        operators=OPERATORS,
        form=form or {"duration": "2h", "ends_at": "", "comment": ""},
        preview=preview,
        preview_more=preview_more,
        can_respond=viewer.can("responder"),
    )


@router.get("/silences")
def silence_list(request: Request, viewer: SignedIn) -> HTMLResponse:
    """List active, pending and expired silences; responders get the new-silence form."""
    return _silences_page(request, viewer)


def _matchers(rows: list[MatcherRow]) -> list[str]:
    """Return the matcher texts of the filled rows, each checked by the service's parser."""
    texts: list[str] = []
    for index, row in enumerate(rows, start=1):
        if not row.label.strip() and not row.value:
            continue  # an empty row
        if row.op not in OPERATORS:
            raise Invalid(f"matcher {index}: unknown operator {row.op!r}; use =, !=, =~ or !~")
        text = f"{row.label.strip()}{row.op}{quote(row.value)}"
        try:
            parse_matcher(text)
        except ValueError as exc:
            raise Invalid(f"matcher {index}: {exc}", {"field": "matchers"}) from exc
        texts.append(text)
    if not texts:
        raise Invalid('a silence needs at least one matcher, e.g. service = "checkout"')
    if len(texts) > MAX_MATCHERS:
        raise Invalid(f"a silence may have at most {MAX_MATCHERS} matchers")
    return texts


def parse_duration(text: str) -> timedelta:
    """Read a duration such as `90` (minutes), `45m`, `2h`, `1d 12h`, `1h30m`."""
    cleaned = text.strip()
    if cleaned.isdigit():
        minutes = int(cleaned)
    else:
        found = _DURATION.fullmatch(cleaned)
        if not cleaned or found is None or not any(found.groups()):
            raise Invalid(
                f"duration {text!r}: say it like 45m, 2h or 1d 12h", {"field": "duration"}
            )
        days, hours, mins = (int(part or 0) for part in found.groups())
        minutes = days * 1440 + hours * 60 + mins
    if minutes < 1:
        raise Invalid("duration: at least one minute", {"field": "duration"})
    if minutes > silences.MAX_DURATION.total_seconds() // 60:
        raise Invalid("a silence may last at most 366 days", {"field": "duration"})
    return timedelta(minutes=minutes)


def _window(viewer: Viewer, duration: str, ends_at: str) -> tuple[datetime, datetime]:
    """Return (start, end): from now, to the end time (in the viewer's zone) or for the duration."""
    now = viewer.runtime.clock.now()
    if ends_at.strip():
        try:
            local = datetime.fromisoformat(ends_at.strip())
        except ValueError:
            raise Invalid(
                f"end time {ends_at!r}: give a date and time", {"field": "ends_at"}
            ) from None
        end = local.replace(tzinfo=viewer.zone) if local.tzinfo is None else local
        if end <= now:
            raise Invalid("the end time is in the past; the silence would never apply")
        return now, end
    return now, now + parse_duration(duration)


def _preview(viewer: Viewer, texts: list[str]) -> tuple[list[AlertOut], bool]:
    """Return the stored firing alerts (that the viewer may see) the matchers would match."""
    parsed: list[Matcher] = [parse_matcher(text) for text in texts]
    runtime = viewer.runtime
    stmt = (
        select(Alert, Incident.number)
        .outerjoin(Incident, Incident.id == Alert.incident_id)
        .where(
            Alert.status == "firing",
            or_(Alert.incident_id.is_(None), visible(runtime.config(), viewer.access)),
        )
        .order_by(Alert.id.desc())
        .limit(PREVIEW_SCAN)
    )
    matched: list[AlertOut] = []
    with runtime.db.session() as session:
        for alert, number in session.execute(stmt):
            labels = {str(k): str(v) for k, v in alert.labels.items()}
            if matches_all(parsed, labels):
                matched.append(AlertOut.of(alert, number))
    return matched[:PREVIEW_SHOWN], len(matched) > PREVIEW_SHOWN


@router.post("/silences")
def create_silence(
    request: Request,
    viewer: Responder,
    label: Field = [],  # noqa: B006 - FastAPI copies the default
    op: Field = [],  # noqa: B006
    value: Field = [],  # noqa: B006
    duration: Text = "",
    ends_at: Text = "",
    comment: Text = "",
    action: Annotated[str, Form(max_length=16)] = "create",
) -> Response:
    """Preview which firing alerts the silence would match, or create it."""
    rows = [
        MatcherRow(name, operator, text)
        for name, operator, text in zip(
            label[: MAX_MATCHERS * 2],
            op + ["="] * max(0, len(label) - len(op)),
            value + [""] * max(0, len(label) - len(value)),
            strict=False,
        )
    ]
    form: dict[str, Any] = {"duration": duration, "ends_at": ends_at, "comment": comment}
    filled = [row for row in rows if row.label.strip() or row.value]
    try:
        texts = _matchers(rows)
        if action == "preview":
            matched, more = _preview(viewer, texts)
            return _silences_page(
                request, viewer, rows=filled, form=form, preview=matched, preview_more=more
            )
        starts, ends = _window(viewer, duration, ends_at)
        runtime = viewer.runtime
        with runtime.db.transaction() as session:
            silences.create(
                session,
                matchers=texts,
                starts_at=starts,
                ends_at=ends,
                comment=comment,
                created_by=viewer.name,
                now=runtime.clock.now(),
            )
    except WarroomError as exc:
        return _silences_page(
            request, viewer, status=exc.status, error=exc.message, rows=filled, form=form
        )
    return see_other("/silences")


@router.post("/silences/{silence_id}/expire")
def expire_silence(silence_id: SilenceId, request: Request, viewer: Responder) -> Response:
    """End a silence now; alerts still firing open incidents on their next delivery."""
    runtime = viewer.runtime
    try:
        with runtime.db.transaction() as session:
            silences.expire(
                session, silence_id=silence_id, now=runtime.clock.now(), actor=viewer.name
            )
    except WarroomError as exc:
        return _silences_page(request, viewer, status=exc.status, error=exc.message)
    return see_other("/silences")
