"""Status updates: post them (with their timeline event), read them, build the public page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from warroom.core.clock import ensure_utc
from warroom.core.errors import Invalid
from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.incidents.states import check_not_closed
from warroom.status import COMPONENT_STATUSES, UPDATE_STATUSES
from warroom.status.config import StatusPageConfig
from warroom.status.models import BODY_MAX, PUBLIC_TITLE_MAX, StatusUpdate
from warroom.status.schemas import (
    AffectedComponent,
    ComponentStatus,
    Indicator,
    OverallStatus,
    PageInfo,
    PublicComponent,
    PublicIncident,
    PublicStatus,
    PublicUpdate,
    UpdateStatus,
)

OPEN_STATUSES = ("detected", "triaged", "mitigated")
TIMELINE_TEXT_MAX = 280  # the timeline shows a line; the full body stays on the update
RANK = {status: rank for rank, status in enumerate(COMPONENT_STATUSES)}
# Worst component status -> overall indicator (Statuspage's vocabulary and descriptions).
INDICATORS: dict[str, tuple[Indicator, str]] = {
    "operational": ("none", "All Systems Operational"),
    "under_maintenance": ("minor", "Service Under Maintenance"),
    "degraded_performance": ("minor", "Minor Service Outage"),
    "partial_outage": ("major", "Partial System Outage"),
    "major_outage": ("critical", "Major Service Outage"),
}
# A component tied to an incident's service, which the latest update does not name.
IMPLIED_STATUS: ComponentStatus = "degraded_performance"


class PublicTitleNeeded(Invalid):
    """A first public update without a public title (each client names its own field)."""

    code = "public_title_needed"


def post_update(
    session: Session,
    *,
    config: StatusPageConfig,
    incident: Incident,
    author: str | None,
    status: str,
    body: str,
    components: dict[str, str],
    public: bool,
    now: datetime,
    source: str = "api",
    public_title: str | None = None,
) -> StatusUpdate:
    """Write an update and its `status_update` timeline event (in the caller's transaction).

    A public update carries the incident's public title: `public_title`, else the one the
    incident's latest public update carries; the first public update must give one.
    """
    if status not in UPDATE_STATUSES:
        raise Invalid(
            f"unknown status {status!r}; use one of {', '.join(UPDATE_STATUSES)}",
            {"field": "status"},
        )
    body = body.strip()
    if not body or len(body) > BODY_MAX:
        raise Invalid(f"body must be 1 to {BODY_MAX} characters", {"field": "body"})
    for component_id, value in components.items():
        if config.component(component_id) is None:
            known = ", ".join(c.id for c in config.components) or "none (see status_page:)"
            raise Invalid(
                f"unknown component {component_id!r}; configured: {known}",
                {"field": "components", "component": component_id},
            )
        if value not in COMPONENT_STATUSES:
            raise Invalid(
                f"component {component_id!r}: unknown status {value!r}; "
                f"use one of {', '.join(COMPONENT_STATUSES)}",
                {"field": "components", "component": component_id},
            )
    check_not_closed(incident.ref, incident.status, "its status-page updates are over")
    if public and incident.visibility != "public":
        raise Invalid(
            f"{incident.ref} is restricted: its updates cannot be public (post it as private)",
            {"field": "public"},
        )
    if not public and public_title is not None:
        raise Invalid(
            "public_title is for public updates: a private one is shown nowhere public",
            {"field": "public_title"},
        )
    title = _public_title(session, incident, public_title) if public else None
    update = StatusUpdate(
        incident_id=incident.id,
        at=now,
        author=author,
        status=status,
        body=body,
        components=dict(components),
        public=public,
        public_title=title,
    )
    session.add(update)
    session.flush()  # the timeline event carries the update's id
    timeline.record(
        session,
        incident=incident,
        kind="status_update",
        text=_shorten(f"{'Public' if public else 'Private'} update ({status}): {body}"),
        at=now,
        actor=author,
        source=source,
        data={
            "status": status,
            "components": dict(components),
            "public": public,
            "update_id": update.id,
            "body": body,  # in full: the Statuspage mirror must not get the shortened text
            "public_title": title,  # the Statuspage mirror names the incident by it
        },
    )
    return update


def _public_title(session: Session, incident: Incident, given: str | None) -> str:
    """Return the public title a public update carries: `given`, else the incident's current."""
    if given is not None:
        title = " ".join(given.split())
        if not title or len(title) > PUBLIC_TITLE_MAX:
            raise Invalid(
                f"public_title must be 1 to {PUBLIC_TITLE_MAX} characters",
                {"field": "public_title"},
            )
        return title
    current = public_title(session, incident_id=incident.id)
    if current is None:
        raise PublicTitleNeeded(
            f"the first public update of {incident.ref} needs a public title: the incident's"
            " own title is internal (add public_title)",
            {"field": "public_title", "ref": incident.ref},
        )
    return current


def public_title(session: Session, *, incident_id: int) -> str | None:
    """Return the public title of the incident's latest public update; None before the first."""
    stmt = (
        select(StatusUpdate.public_title)
        .where(StatusUpdate.incident_id == incident_id, StatusUpdate.public.is_(True))
        .order_by(StatusUpdate.at.desc(), StatusUpdate.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def _shorten(text: str) -> str:
    """Return `text` on one line, cut to TIMELINE_TEXT_MAX characters."""
    line = " ".join(text.split())
    return line if len(line) <= TIMELINE_TEXT_MAX else line[: TIMELINE_TEXT_MAX - 1] + "…"


def updates(session: Session, *, incident: Incident) -> list[StatusUpdate]:
    """Return an incident's updates, newest first."""
    stmt = (
        select(StatusUpdate)
        .where(StatusUpdate.incident_id == incident.id)
        .order_by(StatusUpdate.at.desc(), StatusUpdate.id.desc())
    )
    return list(session.scalars(stmt))


def last_update_at(session: Session, incident_id: int) -> datetime | None:
    """Return when the incident's latest update (public or private) was posted, if any."""
    stmt = select(func.max(StatusUpdate.at)).where(StatusUpdate.incident_id == incident_id)
    return session.scalar(stmt)  # max() keeps the column's type: aware UTC on both backends


def last_updates(session: Session, incident_ids: list[int]) -> dict[int, datetime]:
    """Return incident id -> when its latest update was posted, for those that have one."""
    found: dict[int, datetime] = {}
    for start in range(0, len(incident_ids), 500):
        chunk = incident_ids[start : start + 500]
        rows = session.execute(
            select(StatusUpdate.incident_id, func.max(StatusUpdate.at))
            .where(StatusUpdate.incident_id.in_(chunk))
            .group_by(StatusUpdate.incident_id)
        ).all()
        found.update({incident_id: ensure_utc(at) for incident_id, at in rows})
    return found


def public_status(
    session: Session, config: StatusPageConfig, now: datetime, *, page_url: str | None = None
) -> PublicStatus:
    """Return what the public status page shows: never a restricted incident or private update.

    `page_url` is where this request reached the page; `public_url` from config wins over it.
    """
    url = config.public_url or page_url
    since = now - timedelta(days=config.history_days)
    stmt = (
        select(Incident)
        .where(
            Incident.visibility == "public",
            Incident.drill_id.is_(None),  # a practice incident is nobody's outage
            or_(Incident.status.in_(OPEN_STATUSES), Incident.resolved_at >= since),
            select(StatusUpdate.id)
            .where(StatusUpdate.incident_id == Incident.id, StatusUpdate.public.is_(True))
            .exists(),
        )
        .order_by(Incident.number.desc())
    )
    shown = list(session.scalars(stmt))
    by_incident: dict[int, list[StatusUpdate]] = {i.id: [] for i in shown}
    if shown:
        rows = session.scalars(
            select(StatusUpdate)
            .where(StatusUpdate.incident_id.in_(list(by_incident)), StatusUpdate.public.is_(True))
            .order_by(StatusUpdate.at.desc(), StatusUpdate.id.desc())
        )
        for row in rows:
            by_incident[row.incident_id].append(row)
    open_ones = [i for i in shown if i.status in OPEN_STATUSES]
    past = [i for i in shown if i.status not in OPEN_STATUSES]
    components = _components(config, [(i, by_incident[i.id]) for i in open_ones])
    worst = max((RANK[c.status] for c in components), default=0)
    indicator, description = INDICATORS[COMPONENT_STATUSES[worst]]
    if open_ones and indicator == "none":  # an incident with no component still shows
        indicator, description = "minor", "Minor Service Outage"
    newest = max((rows[0].at for rows in by_incident.values()), default=now)
    return PublicStatus(
        page=PageInfo(name=config.title, url=url, updated_at=newest),
        status=OverallStatus(indicator=indicator, description=description),
        components=components,
        incidents=[_incident(config, i, by_incident[i.id], url) for i in open_ones],
        past_incidents=sorted(
            (_incident(config, i, by_incident[i.id], url) for i in past),
            key=lambda item: item.resolved_at or item.updated_at,
            reverse=True,
        ),
    )


def _current(config: StatusPageConfig, incident: Incident, latest: StatusUpdate) -> dict[str, str]:
    """Return component -> status one open incident gives now (its latest update wins)."""
    implied = dict.fromkeys(config.components_of(incident.service), IMPLIED_STATUS)
    if latest.status == "resolved":
        implied = {}  # the team says it is over; only what the update names still counts
    named = {c: s for c, s in latest.components.items() if config.component(c) is not None}
    return implied | named


def _components(
    config: StatusPageConfig, open_ones: Iterable[tuple[Incident, list[StatusUpdate]]]
) -> list[PublicComponent]:
    """Return each component at the worst status any open public incident gives it."""
    status: dict[str, str] = {}
    changed: dict[str, datetime] = {}
    for incident, rows in open_ones:
        for component, value in _current(config, incident, rows[0]).items():
            if RANK[value] >= RANK[status.get(component, "operational")]:
                status[component] = value
            changed[component] = max(changed.get(component, rows[0].at), rows[0].at)
    return [
        PublicComponent.model_validate(
            {
                "id": c.id,
                "name": c.name,
                "description": c.description,
                "group": c.group,
                "position": position,
                "status": status.get(c.id, "operational"),
                "updated_at": changed.get(c.id),
            }
        )
        for position, c in enumerate(config.components, start=1)
    ]


def _incident(
    config: StatusPageConfig, incident: Incident, rows: list[StatusUpdate], url: str | None
) -> PublicIncident:
    """Return the public view of one incident and its public updates (newest first)."""
    affected = set(config.components_of(incident.service))
    for row in rows:
        affected |= {c for c in row.components if config.component(c) is not None}
    # Like Statuspage's impact: the worst it got, so a past incident keeps its weight.
    current = _current(config, incident, rows[0]) if incident.status in OPEN_STATUSES else {}
    given = [*current.values(), *(s for row in rows for s in row.components.values())]
    worst = max((RANK.get(s, 0) for s in given), default=0)
    impact = INDICATORS[COMPONENT_STATUSES[worst]][0]
    link = f"{url}#{incident.ref}" if url else None
    latest: UpdateStatus = rows[0].status  # type: ignore[assignment]
    return PublicIncident(
        id=incident.ref,
        # Public rows always carry one (a CHECK constraint); the ref stands in, never the title.
        name=rows[0].public_title or incident.ref,
        status=latest,
        impact=impact,
        created_at=rows[-1].at,
        updated_at=rows[0].at,
        resolved_at=incident.resolved_at,
        shortlink=link,
        components=[c.id for c in config.components if c.id in affected],
        incident_updates=[_update(config, row) for row in rows],
    )


def _update(config: StatusPageConfig, row: StatusUpdate) -> PublicUpdate:
    """Return the public view of one update."""
    named = []
    for code, value in row.components.items():
        component = config.component(code)
        if component is not None:  # a component removed from config since is left out
            named.append({"code": code, "name": component.name, "new_status": value})
    return PublicUpdate.model_validate(
        {
            "id": str(row.id),
            "status": row.status,
            "body": row.body,
            "created_at": row.at,
            "display_at": row.at,
            "affected_components": [AffectedComponent.model_validate(n) for n in named],
        }
    )
