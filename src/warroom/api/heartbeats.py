"""Heartbeat routes: a ping (the heartbeat's own bearer token) and the list (viewers)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool

from warroom.api.deps import RuntimeDep, Viewer, access_of
from warroom.api.errors import ERROR_RESPONSES, error_response
from warroom.detection import metrics
from warroom.detection.api_schemas import HeartbeatOut, PingOut
from warroom.detection.heartbeat_config import HEARTBEAT_ID
from warroom.detection.sources.common import match_bearer

SOURCE = "heartbeat"
log = logging.getLogger("warroom.api.heartbeats")
router = APIRouter(prefix="/api/v1", tags=["heartbeats"], responses=ERROR_RESPONSES)
HeartbeatId = Annotated[
    str, Path(pattern=HEARTBEAT_ID, description="The heartbeat's id in warroom.yaml")
]


@router.post(
    "/intake/heartbeat/{heartbeat_id}",
    response_model=PingOut,
    tags=["intake"],
    summary="A heartbeat's ping, with its own `token` as the bearer token; the body is ignored",
)
async def ping(heartbeat_id: HeartbeatId, request: Request, runtime: RuntimeDep) -> Any:
    """Record a ping; a heartbeat that was silent ends its incident."""
    beat = runtime.config().heartbeat(heartbeat_id)
    # One answer for an unknown id, one without a token and a wrong token, so that a caller
    # without the token cannot list the heartbeats; the log and the counter tell them apart.
    if beat is None or beat.token is None:
        why = "no such heartbeat" if beat is None else "it has no token (pinged through a route)"
        log.warning("heartbeat ping for %r refused: %s", heartbeat_id, why)
        metrics.rejected(SOURCE, "not_configured")
        return _refused()
    if match_bearer(request.headers.get("authorization"), [beat.token.get_secret_value()]) is None:
        metrics.rejected(SOURCE, "unauthorized")
        return _refused()
    pinged = await run_in_threadpool(runtime.intake.ping, heartbeat_id)
    return PingOut.of(pinged)


def _refused() -> Any:
    return error_response(
        401,
        "unauthorized",
        "missing or wrong bearer token for this heartbeat (its own `token` in warroom.yaml; "
        "a heartbeat without one takes pings only through a route)",
    )


@router.get("/heartbeats", response_model=list[HeartbeatOut])
def heartbeats(runtime: RuntimeDep, principal: Viewer) -> list[HeartbeatOut]:
    """List every configured heartbeat with when it last pinged and its state."""
    found = runtime.intake.heartbeats(access_of(principal, runtime))
    now = runtime.clock.now()
    return [HeartbeatOut.of(beat, now) for beat in found]
