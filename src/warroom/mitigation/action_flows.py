"""Run an action for an incident: check and mark it started, run it outside any transaction,
then record how it ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.mitigation.action_service import prepare, record, start
from warroom.mitigation.actions import ActionConfig
from warroom.mitigation.runner import CommandPlan, run_command, run_http
from warroom.mitigation.schemas import ActionResult
from warroom.storage.db import Database


def run_action(
    *,
    db: Database,
    actions: list[ActionConfig],
    now: Callable[[], datetime],
    ref: str,
    name: str,
    params: dict[str, str],
    confirm: bool,
    role: str,
    actor: Actor,
) -> ActionResult:
    """Check the request, run the action, write its timeline event; return the result."""
    actor.require("responder", "run a mitigation action")
    with db.transaction() as session:  # every refusal happens here, before anything runs
        incident = incidents.get(session, ref, for_update=True)
        prepared = prepare(
            actions=actions,
            incident=incident,
            name=name,
            params=params,
            confirm=confirm,
            role=role,
        )
        started = start(
            session,
            incident=incident,
            prepared=prepared,
            actor=actor.name,
            source=actor.source,
            now=now(),
        ).id
    # No transaction or row lock is held while the action runs (up to its timeout).
    plan = prepared.plan
    outcome = run_command(plan) if isinstance(plan, CommandPlan) else run_http(plan)
    with db.transaction() as session:
        incident = incidents.get(session, ref, for_update=True)
        event = record(
            session,
            incident=incident,
            prepared=prepared,
            outcome=outcome,
            actor=actor.name,
            source=actor.source,
            now=now(),
            started_event=started,
        )
        return ActionResult.of(prepared, outcome, event.id)
