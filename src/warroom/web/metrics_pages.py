"""The metrics page: time to detect, acknowledge, mitigate and resolve as SVG charts with their
tables, and the on-call load per person.

The numbers come from the same report the API gives (`warroom.reports.service`), over the
incidents the viewer may see: a restricted incident outside their reach counts nowhere here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.visibility import visible
from warroom.oncall import service as oncall
from warroom.reports import service as reports
from warroom.reports.exports import export_csv
from warroom.reports.schemas import DurationStats
from warroom.web.charts import Series, bar_chart, legend, line_chart
from warroom.web.page import SECURITY_HEADERS, PageRoute, SignedIn, Viewer, render
from warroom.web.templating import duration

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Query(max_length=64)]
PERIODS = {
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "180d": "Last 180 days",
    "365d": "Last year",
}
DEFAULT_PERIOD = "90d"
# (field of DurationStats, long name, letter under its bars)
MEASURES = (
    ("mttd", "Time to detect", "D"),
    ("mtta", "Time to acknowledge", "A"),
    ("mttm", "Time to mitigate", "M"),
    ("mttr", "Time to resolve", "R"),
)


@dataclass(frozen=True)
class Load:
    """One person's on-call load over the period."""

    person: str
    hours: float
    pages: int
    incidents: int  # distinct incidents they were paged for


def _selection(viewer: Viewer, period: str, severity: str, service: str) -> reports.Selection:
    runtime = viewer.runtime
    return reports.select_incidents(
        runtime.config(),
        now=runtime.clock.now(),
        since=period or DEFAULT_PERIOD,
        severity=[severity] if severity else None,
        service=[service] if service else None,
        access=viewer.access,
    )


def _series(groups: dict[str, DurationStats]) -> list[Series]:
    return [
        Series(name, letter, [getattr(groups[key], field).mean for key in groups])
        for field, name, letter in MEASURES
    ]


def _table(groups: dict[str, DurationStats]) -> list[dict[str, Any]]:
    """Return one row per group: each measure's mean, median, p90 and count."""
    return [
        {"name": key, "stats": [getattr(stats, field) for field, _, _ in MEASURES]}
        for key, stats in groups.items()
    ]


def _months(start: datetime, end: datetime) -> list[str]:
    """Return every month from `start` to `end` as YYYY-MM (at most the last 36)."""
    found = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found[-36:]


def _by_month(
    times: list[reports.IncidentTimes], start: datetime, end: datetime
) -> dict[str, DurationStats]:
    """Return the durations per month of detection (UTC), every month of the period shown."""
    months: dict[str, list[reports.IncidentTimes]] = {m: [] for m in _months(start, end)}
    for incident in times:
        if incident.outcome == "false_alarm":
            continue
        months.setdefault(f"{incident.detected_at:%Y-%m}", []).append(incident)
    return {month: reports.duration_stats(months[month]) for month in sorted(months)}


def on_call_load(viewer: Viewer, start: datetime, end: datetime) -> list[Load]:
    """Return hours on call (every schedule, overrides applied) and pages per person.

    Pages count only on incidents the viewer may see.
    """
    runtime = viewer.runtime
    config = runtime.config()
    hours: dict[str, float] = {}
    pages: Counter[str] = Counter()
    paged_for: dict[str, set[int]] = {}
    may_see = visible(config, viewer.access)
    with runtime.db.session() as session:
        span_start = max(start, end - timedelta(days=oncall.MAX_WINDOW_DAYS))
        for schedule in config.schedules:
            for shift in oncall.schedule_shifts(
                session, config=config, schedule_id=schedule.id, start=span_start, end=end
            ):
                overlap = min(shift.end, end) - max(shift.start, span_start)
                hours[shift.person] = hours.get(shift.person, 0.0) + max(
                    overlap.total_seconds() / 3600, 0.0
                )
        rows = session.execute(
            select(TimelineEvent.incident_id, TimelineEvent.data)
            .join(Incident, Incident.id == TimelineEvent.incident_id)
            .where(
                TimelineEvent.kind == "paged",
                TimelineEvent.at >= start,
                TimelineEvent.at < end,
                may_see,
            )
        )
        for incident_id, data in rows:
            for person in (data or {}).get("people", []):
                pages[person] += 1
                paged_for.setdefault(person, set()).add(incident_id)
    people = sorted(set(hours) | set(pages), key=lambda p: (-pages[p], -hours.get(p, 0.0), p))
    return [
        Load(p, round(hours.get(p, 0.0), 1), pages[p], len(paged_for.get(p, ()))) for p in people
    ]


@router.get("/reports")
def metrics_page(
    request: Request,
    viewer: SignedIn,
    period: Text = DEFAULT_PERIOD,
    severity: Text = "",
    service: Text = "",
) -> HTMLResponse:
    """Show MTTx by severity, service and month as charts with tables, and on-call load."""
    runtime = viewer.runtime
    selection = _selection(viewer, period, severity, service)
    now = runtime.clock.now()
    with runtime.db.session() as session:
        summary = reports.incident_metrics(session, selection=selection, now=now)
        times = reports.incident_times(session, selection)
    months = _by_month(times, selection.since, selection.until)
    chosen = {"period": period, "severity": severity, "service": service}
    query = urlencode(
        {k: v for k, v in chosen.items() if v and not (k == "period" and v == DEFAULT_PERIOD)}
    )
    what = f"Incidents detected {PERIODS.get(period, 'since ' + period).lower()}"
    charts = []
    for chart_id, heading, groups, kind in (
        ("by-severity", "By severity", summary.by_severity, "bar"),
        ("by-service", "By service", summary.by_service, "bar"),
        ("by-month", "By month (UTC)", months, "line"),
    ):
        series = _series(groups)
        draw = bar_chart if kind == "bar" else line_chart
        title = f"Mean time to detect, acknowledge, mitigate and resolve, {heading.lower()}"
        desc = (
            f"{what}: {len(groups)} groups. Each measure's mean, median, 90th percentile and "
            "sample count are in the table below."
            if groups
            else f"{what}: none, so nothing to draw."
        )
        charts.append(
            {
                "id": chart_id,
                "heading": heading,
                "svg": draw(chart_id, title, desc, list(groups), series, fmt=duration, times=True)
                if summary.total
                else None,
                "legend": legend(series, lines=kind == "line"),
                "rows": _table(groups),
            }
        )
    load = on_call_load(viewer, selection.since, selection.until)
    return render(
        request,
        "metrics/metrics.html",
        viewer,
        summary=summary,
        charts=charts,
        measures=MEASURES,
        load=load,
        periods=PERIODS,
        chosen=chosen,
        services=sorted({s.id for s in runtime.config().services} | set(summary.counts.service)),
        csv_url=f"/reports/incidents.csv{'?' + query if query else ''}",
        api_url=f"/api/v1/metrics/incidents{'?' + query if query else ''}",
    )


@router.get("/reports/incidents.csv")
def metrics_csv(
    viewer: SignedIn,
    period: Text = DEFAULT_PERIOD,
    severity: Text = "",
    service: Text = "",
) -> Response:
    """The selected incidents as CSV, as `/api/v1/metrics/incidents.csv` gives it."""
    selection = _selection(viewer, period, severity, service)
    request = viewer.request
    body = export_csv(
        viewer.runtime.db,
        selection,
        actor=viewer.principal.name,
        at=viewer.runtime.clock.now(),
        request=f"GET {request.url.path}?{request.url.query}".rstrip("?"),
    )
    headers = dict(SECURITY_HEADERS)
    headers["Content-Disposition"] = 'attachment; filename="incidents.csv"'
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
