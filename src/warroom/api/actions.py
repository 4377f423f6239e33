"""Automated action routes: list the configured actions, run one for an incident."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from warroom.api.deps import Responder, RuntimeDep, Viewer, VisibleIncident, actor_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.core.errors import ActionTimedOut
from warroom.mitigation.action_flows import run_action
from warroom.mitigation.schemas import ActionList, ActionOut, ActionResult, ActionRun

ActionName = Annotated[str, Path(max_length=64, description="The action's name in warroom.yaml")]

list_router = APIRouter(prefix="/api/v1/actions", tags=["actions"], responses=ERROR_RESPONSES)
# Registered before the incidents router: its POST /{ref}/{action} would catch these paths.
run_router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["actions"],
    responses=ERROR_RESPONSES,
    dependencies=[VisibleIncident],
)


@list_router.get("", response_model=ActionList)
def list_actions(runtime: RuntimeDep, _principal: Viewer) -> ActionList:
    """List the configured actions: description, danger, params and who may run them."""
    return ActionList(items=[ActionOut.of(a) for a in runtime.config().actions])


@run_router.post("/{ref}/actions/{name}", response_model=ActionResult)
def run(
    ref: str,
    name: ActionName,
    body: ActionRun,
    request: Request,
    runtime: RuntimeDep,
    principal: Responder,
) -> ActionResult:
    """Run an action and wait for it (up to its timeout); a failed run is 200 with ok false.

    A run stopped at its timeout is a 424 whose details are the result: it is on the timeline
    (the action may have done part of its work, so the record stays), but it is not a success.
    """
    result = run_action(
        db=runtime.db,
        actions=runtime.config().actions,
        now=runtime.clock.now,
        ref=ref,
        name=name,
        params=dict(body.params),
        confirm=body.confirm,
        role=principal.role,
        actor=actor_of(principal, request),
    )
    number = int(result.incident.removeprefix("INC-"))
    runtime.flows.refresh(number, "action")  # the runbook file shows the new event
    if result.timed_out:
        took = result.duration_ms / 1000
        raise ActionTimedOut(
            f"action {name} on {result.incident} timed out after {took:.1f}s and was stopped; "
            f"its output so far is in details and on the timeline (event {result.event_id})",
            result.model_dump(mode="json"),
        )
    return result
