"""Liveness, readiness and Prometheus metrics.

`/readyz` and `/metrics` need no token (load balancers and Prometheus call them), so what an
anonymous caller gets is status alone: no file path, no error text. An admin's token brings
the details (which folder is not writable, the database's error).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from warroom.api.deps import Admin, AdminOrAnonymous, RuntimeDep
from warroom.api.errors import ERROR_RESPONSES
from warroom.detection.heartbeat_metrics import HeartbeatAges
from warroom.incidents import metrics as incident_metrics
from warroom.migrations import migrate
from warroom.runtime import Runtime

router = APIRouter(tags=["operations"])
log = logging.getLogger("warroom")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Say the process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {"description": "Every check passed"},
        503: {"description": "At least one check failed; the body says which"},
    },
)
def readyz(runtime: RuntimeDep, admin: AdminOrAnonymous) -> JSONResponse:
    """Say whether the database, the migrations, the runbook directory and the engine are well.

    Without an admin's token, each check says `ok` alone; an admin gets the details.
    """
    ready, checks = readiness(runtime)
    if not admin:
        checks = {name: {"ok": check["ok"]} for name, check in checks.items()}
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)


def readiness(runtime: Runtime) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Run the readiness checks; return whether all passed and each check with its details.

    Shared with `warroom engine --port`, whose anonymous callers get the `ok` of each alone.
    """
    checks: dict[str, dict[str, Any]] = {}
    try:
        with runtime.db.session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:  # any driver error means "not ready"
        checks["database"] = {"ok": False, "error": str(exc).splitlines()[0]}
    if checks["database"]["ok"]:
        current, head = migrate.current_revision(runtime.db), migrate.head_revision()
        checks["migrations"] = {"ok": current == head, "current": current, "head": head}
    else:
        checks["migrations"] = {"ok": False, "error": "database unreachable"}
    problems = runtime.runbooks.problems()
    checks["runbooks"] = {
        "ok": not problems,
        "root": str(runtime.runbooks.root),
        "problems": problems,
    }
    engine = runtime.engine
    checks["engine"] = {
        "ok": engine.healthy(),
        "running": engine.running,
        "last_tick_seconds_ago": engine.seconds_since_tick(),
    }
    return all(check["ok"] for check in checks.values()), checks


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
def metrics(runtime: RuntimeDep, admin: AdminOrAnonymous) -> Response:
    """Expose Prometheus metrics (open incidents are counted in the database on each scrape)."""
    try:
        body = exposition(runtime)
    except Exception as exc:  # the database: a scrape failure, not a traceback for anyone
        log.error("metrics scrape failed: %s", str(exc).splitlines()[0] if str(exc) else exc)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0] if admin else "unavailable"
        return Response(f"# metrics unavailable: {reason}\n", 503, media_type="text/plain")
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def exposition(runtime: Runtime) -> bytes:
    """Return the process's metrics and the database-backed ones (shared with the engine's port)."""
    ages = HeartbeatAges(runtime.db, runtime.config, runtime.clock.now)
    return incident_metrics.exposition(runtime.db, lambda: runtime.config().severities, [ages])


@router.post("/-/reload", responses=ERROR_RESPONSES)
def reload(runtime: RuntimeDep, admin: Admin) -> dict[str, Any]:
    """Re-read warroom.yaml (admin); on error keep the last good configuration and say why."""
    config = runtime.reload_config(by=admin.name)
    return {
        "status": "reloaded",
        "config": str(runtime.settings.config_path() or "built-in defaults"),
        "severities": list(config.severities),
        "incident_types": [t.id for t in config.incident_types],
        "services": [s.id for s in config.services],
    }
