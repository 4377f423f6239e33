"""`warroom engine --port`: liveness, readiness and Prometheus metrics of an engine process.

Nobody signs in here (load balancers, supervisors and Prometheus call it), so the answers
carry status alone: no file path, no error text. The checks and the metrics themselves are
the API server's, handed in by the command that builds this app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

log = logging.getLogger("warroom.engine")
# (whether every check passed, each check by name with its details)
Readiness = Callable[[], tuple[bool, dict[str, dict[str, Any]]]]


def health_app(readiness: Readiness, exposition: Callable[[], bytes]) -> Starlette:
    """Return the app serving `/healthz`, `/readyz` and `/metrics` for an engine process."""

    def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def readyz(_request: Request) -> JSONResponse:
        try:
            ready, checks = readiness()
        except Exception as exc:  # a check that raises (the database went away mid-check)
            log.error("readiness check failed: %s", _first_line(exc))
            return JSONResponse({"status": "not ready", "checks": {}}, status_code=503)
        body = {
            "status": "ready" if ready else "not ready",
            "checks": {name: {"ok": check["ok"]} for name, check in checks.items()},
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    def metrics(_request: Request) -> Response:
        try:
            body = exposition()
        except Exception as exc:  # the database: logged here, never shown to the scraper
            log.error("metrics scrape failed: %s", _first_line(exc))
            return Response("# metrics unavailable: unavailable\n", 503, media_type="text/plain")
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    # Sync endpoints: Starlette runs them in its thread pool, so a slow database does not
    # stall the event loop that answers /healthz.
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]
