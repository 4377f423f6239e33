"""Build the FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import warroom
from warroom.api import actions as actions_api
from warroom.api import (
    alerts,
    errors,
    explorer,
    health,
    incidents,
    intake,
    metrics_api,
    notifications,
    oidc,
    oncall,
    reference,
    search,
    signin,
    silences,
    slack_interactions,
    totp,
    twilio_intake,
)
from warroom.api import audit as audit_api
from warroom.api import checklist as checklist_api
from warroom.api import contact_methods as contact_methods_api
from warroom.api import drills as drills_api
from warroom.api import evidence as evidence_api
from warroom.api import heartbeats as heartbeats_api
from warroom.api import postmortems as postmortems_api
from warroom.api import status as status_api
from warroom.api.audit_context import AuditClient
from warroom.api.headers import SecurityHeaders
from warroom.api.middleware import LimitRequestSize, RefuseNulInUrl
from warroom.runtime import Runtime

DESCRIPTION = (
    "warroom runs your incident response runbook: declare, triage, mitigate, resolve and "
    "close incidents; every change lands on an append-only timeline. Authenticate with "
    "`Authorization: Bearer <token>` (create one with `warroom tokens create`)."
)


def build_api(runtime: Runtime) -> FastAPI:
    """Return the JSON API application with every router and error handler installed."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Listening (PostgreSQL) or polling (SQLite) before the first stream opens, so its
        # first events are not lost while the LISTEN connection is being made.
        runtime.live.start()
        yield
        runtime.intake.close()  # finish queued deliveries before the process ends
        runtime.engine.stop()  # finish the current tick and sends, hand back claims
        runtime.live.close()  # the LISTEN connection or the poll thread of the streams

    # FastAPI's own /docs loads Swagger UI from a CDN: a blank page on an air-gapped network.
    # fastapi-offline serves the same page with the assets it ships. No /redoc: ReDoc always
    # fetches its sidebar logo from cdn.redoc.ly, and Swagger UI already shows the whole API.
    app = FastAPIOffline(
        docs_url=None,  # explorer.install serves /docs, under a CSP without inline script
        redoc_url=None,
        title="warroom",
        version=warroom.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Swagger UI may fetch a validity badge from validator.swagger.io for a public address.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.runtime = runtime
    errors.install(app)
    app.add_middleware(RefuseNulInUrl)
    app.add_middleware(LimitRequestSize)
    app.add_middleware(AuditClient)  # the client address of every entry a request records
    app.add_middleware(SecurityHeaders)  # outermost of ours: its headers reach every answer
    explorer.install(app)
    # First: the intake and heartbeat pings take the most requests, and a route is found by
    # trying each in turn (a few hundred: a fifth of a single-alert delivery's CPU).
    app.include_router(intake.router)
    app.include_router(heartbeats_api.router)
    app.include_router(health.router)
    app.include_router(signin.router)
    app.include_router(totp.router)
    app.include_router(oidc.router)
    app.include_router(status_api.updates_router)  # before incidents: see status.py
    app.include_router(actions_api.run_router)  # before incidents: see actions.py
    app.include_router(actions_api.list_router)
    app.include_router(postmortems_api.router)  # before incidents: see postmortems.py
    app.include_router(postmortems_api.items_router)
    app.include_router(checklist_api.router)  # before incidents: see checklist.py
    app.include_router(evidence_api.router)  # before incidents, like checklist.py
    app.include_router(incidents.router)
    app.include_router(alerts.router)
    app.include_router(silences.router)
    app.include_router(notifications.router)
    app.include_router(notifications.escalations)
    app.include_router(twilio_intake.router)
    app.include_router(slack_interactions.router)
    app.include_router(oncall.router)
    app.include_router(reference.router)
    app.include_router(metrics_api.router)
    app.include_router(audit_api.router)
    app.include_router(search.router)
    app.include_router(status_api.public_router)
    app.include_router(contact_methods_api.router)
    app.include_router(drills_api.router)

    return app
