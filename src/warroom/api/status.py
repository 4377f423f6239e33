"""Status update routes and the public status summary (JSON)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from warroom.api import links
from warroom.api.deps import Responder, RuntimeDep, Viewer, VisibleIncident, actor_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime
from warroom.status import service
from warroom.status.schemas import (
    PublicStatus,
    StatusUpdateCreate,
    StatusUpdateList,
    StatusUpdateOut,
)

# Registered before the incidents router: its POST /{ref}/{action} would catch these paths.
updates_router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["status updates"],
    responses=ERROR_RESPONSES,
    dependencies=[VisibleIncident],
)
public_router = APIRouter(prefix="/api/v1", tags=["status page"])


@updates_router.post(
    "/{ref}/status-updates", status_code=status.HTTP_201_CREATED, response_model=StatusUpdateOut
)
def post_update(
    ref: str, body: StatusUpdateCreate, request: Request, runtime: RuntimeDep, principal: Responder
) -> StatusUpdateOut:
    """Post a status update (public ones show on /status); it lands on the timeline too."""
    return post_status_update(
        runtime,
        ref,
        actor=actor_of(principal, request),
        status=body.status,
        body=body.body,
        components=dict(body.components),
        public=body.public,
        public_title=body.public_title,
    )


def post_status_update(
    runtime: Runtime,
    ref: str,
    *,
    actor: Actor,
    status: str,
    body: str,
    components: dict[str, str],
    public: bool,
    public_title: str | None,
) -> StatusUpdateOut:
    """Post an update in one transaction, then refresh the runbook file (the API and Slack)."""
    with runtime.db.transaction() as session:
        incident = incidents.get(session, ref, for_update=True)
        row = service.post_update(
            session,
            config=runtime.config().status_page,
            incident=incident,
            author=actor.name,
            status=status,
            body=body,
            components=components,
            public=public,
            public_title=public_title,
            now=runtime.clock.now(),
            source=actor.source,
        )
        out = StatusUpdateOut.of(row, incident.ref)
        number = incident.number
    runtime.flows.refresh(number, "status_update")  # the runbook file shows the new event
    return out


@updates_router.get("/{ref}/status-updates", response_model=StatusUpdateList)
def list_updates(ref: str, runtime: RuntimeDep, _principal: Viewer) -> StatusUpdateList:
    """List an incident's status updates, public and private, newest first."""
    with runtime.db.session() as session:
        incident = incidents.get(session, ref)
        rows = service.updates(session, incident=incident)
        return StatusUpdateList(items=[StatusUpdateOut.of(row, incident.ref) for row in rows])


@public_router.get("/status", response_model=PublicStatus)
def public_status(runtime: RuntimeDep, response: Response) -> PublicStatus:
    """Return the public status page as JSON, shaped like Statuspage's summary (no auth)."""
    page_url = links.status_page(runtime)  # never from the Host header: the answer is cached
    with runtime.db.session() as session:
        summary = service.public_status(
            session, runtime.config().status_page, runtime.clock.now(), page_url=page_url
        )
    # Anyone may poll this during an outage; a short shared cache spares the database.
    response.headers["Cache-Control"] = "public, max-age=15"
    return summary
