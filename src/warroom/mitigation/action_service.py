"""Check an action request against config and the incident; record what ran on the timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.core.errors import Conflict, Forbidden, Invalid, NotFound
from warroom.incidents import timeline
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.states import check_not_closed
from warroom.mitigation.action_guards import Refused, fill_argv, fill_url
from warroom.mitigation.actions import ActionConfig, fill, fill_json, find, placeholders
from warroom.mitigation.runner import CommandPlan, HttpPlan, Outcome

VALUE_MAX = 1_000  # characters in one param value
# A run whose end was never recorded (the server died) stops counting as running this long
# after its timeout would have stopped it.
RUNNING_GRACE = 30


@dataclass(frozen=True)
class Prepared:
    """An action checked and filled in, ready to run outside any transaction."""

    action: ActionConfig
    incident_ref: str
    params: dict[str, str]
    plan: CommandPlan | HttpPlan


def prepare(
    *,
    actions: list[ActionConfig],
    incident: Incident,
    name: str,
    params: dict[str, str],
    confirm: bool,
    role: str,
) -> Prepared:
    """Check the request (action, role, state, params, confirmation); fill the placeholders."""
    action = find(actions, name)
    if action is None:
        known = ", ".join(a.name for a in actions) or "none (see actions: in warroom.yaml)"
        raise NotFound(f"no action {name!r}; configured: {known}", {"action": name})
    if role not in action.allowed_roles:
        raise Forbidden(
            f"action {name!r} may be run by {' or '.join(action.allowed_roles)}; you are a {role}"
        )
    check_not_closed(incident.ref, incident.status, "no more actions run on it")
    values = _check_params(action, params)
    uses = {name for where, text in action.templates() for name in placeholders(text, where)}
    if "service" in uses and not incident.service:
        raise Conflict(
            f"action {name!r} needs the incident's service and {incident.ref} has none; "
            "set the service on the incident first",
            {"field": "service"},
        )
    values |= {"incident": incident.ref, "service": incident.service or ""}
    plan = _checked_plan(action, values, incident.ref)
    if action.dangerous and not confirm:
        raise Conflict(
            f"action {name!r} is marked dangerous: {action.description or 'no description'}. "
            'Send "confirm": true (CLI: answer the prompt or pass --yes) to run it.',
            {"action": name, "dangerous": True, "confirm_required": True},
        )
    return Prepared(action, incident.ref, {k: v for k, v in values.items() if k in params}, plan)


def _checked_plan(action: ActionConfig, values: dict[str, str], ref: str) -> CommandPlan | HttpPlan:
    """Return the filled-in plan; raise a 4xx naming the value that may not go where it would."""
    try:
        return _plan(action, values)
    except Refused as exc:
        if exc.name == "service":
            raise Conflict(
                f"action {action.name!r} cannot use {ref}'s service {values['service']!r}: "
                f"it {exc}; nothing ran",
                {"field": "service"},
            ) from None
        raise Invalid(
            f"param {exc.name!r}: {exc}; nothing ran", {"field": f"params.{exc.name}"}
        ) from None


def _check_params(action: ActionConfig, given: dict[str, str]) -> dict[str, str]:
    """Return every declared param's value; raise Invalid naming the first bad one."""
    for key in given:
        if key not in action.params:
            known = ", ".join(action.params) or "none"
            raise Invalid(
                f"action {action.name!r} has no param {key!r}; it takes: {known}",
                {"field": f"params.{key}"},
            )
    values = {}
    for key, spec in action.params.items():
        if key not in given:
            if spec.required:
                raise Invalid(
                    f"param {key!r} is required for action {action.name!r}"
                    + (f" ({spec.description})" if spec.description else ""),
                    {"field": f"params.{key}"},
                )
            values[key] = spec.default
            continue
        value = given[key]
        if len(value) > VALUE_MAX or "\x00" in value or not spec.matches(value):
            raise Invalid(
                f"param {key!r}: {value[:100]!r} does not match {spec.pattern!r}",
                {"field": f"params.{key}", "pattern": spec.pattern},
            )
        if value in (".", ".."):
            # Percent-encoding leaves dots alone, and a URL's `..` climbs out of its path.
            raise Invalid(
                f"param {key!r}: {value!r} is a path step, not a value",
                {"field": f"params.{key}"},
            )
        values[key] = value
    return values


def _plan(action: ActionConfig, values: dict[str, str]) -> CommandPlan | HttpPlan:
    """Return the filled-in command or request."""
    env = {"WARROOM_INCIDENT": values["incident"], "WARROOM_ACTION": action.name}
    if action.command is not None:
        spec = action.command
        dash = [name for name, param in action.params.items() if param.allow_leading_dash]
        secrets = {k: v.get_secret_value() for k, v in spec.env.items()}
        return CommandPlan(
            argv=[fill_argv(item, values, dash) for item in spec.argv],
            cwd=spec.cwd,
            env=env | secrets,
            timeout=spec.timeout,
            secrets=list(secrets.values()),
        )
    assert action.http is not None
    http = action.http
    headers = {k: v.get_secret_value() for k, v in http.headers.items()}
    if http.bearer_token is not None:
        headers["Authorization"] = f"Bearer {http.bearer_token.get_secret_value()}"
    return HttpPlan(
        method=http.method,
        url=fill_url(http.url, values),
        headers=headers,
        json_body=fill_json(http.json_body, values),
        body=fill(http.body, values) if http.body is not None else None,
        timeout=http.timeout,
        expect_status=list(http.expect_status),
    )


def describe(prepared: Prepared) -> dict[str, Any]:
    """Return what ran, safe to keep: argv or method and URL, never env or header values."""
    plan = prepared.plan
    if isinstance(plan, CommandPlan):
        return {
            "command": list(plan.argv),
            "env": sorted(prepared.action.command.env) if prepared.action.command else [],
        }
    return {"request": f"{plan.method} {plan.url}", "headers": sorted(plan.headers)}


def start(
    session: Session,
    *,
    incident: Incident,
    prepared: Prepared,
    actor: str | None,
    source: str,
    now: datetime,
) -> TimelineEvent:
    """Write `action_started` before the run, refusing a second run of the same action.

    The event is the trace of a run that never finished (the server died mid-rollback), and
    a started event without its `action` event is what says a run is still going. The caller
    holds the incident's row lock, so two requests cannot both pass the check.
    """
    name = prepared.action.name
    running = _running(session, incident=incident, name=name, now=now, prepared=prepared)
    if running is not None:
        by = f" by {running.actor}" if running.actor else ""
        raise Conflict(
            f"action {name} is already running on {incident.ref} (started{by} at "
            f"{running.at:%H:%M:%S} UTC); wait for it to finish (timeout "
            f"{prepared.action.timeout:g}s) before running it again",
            {"action": name, "started_event": running.id},
        )
    event = timeline.record(
        session,
        incident=incident,
        kind="action_started",
        text=f"Action {name} started",
        at=now,
        actor=actor,
        source=source,
        data={"action": name, "params": dict(prepared.params), **describe(prepared)},
    )
    session.flush()
    return event


def _running(
    session: Session, *, incident: Incident, name: str, now: datetime, prepared: Prepared
) -> TimelineEvent | None:
    """Return the started event of a run of `name` that has not finished, if any."""
    since = now - timedelta(seconds=prepared.action.timeout + RUNNING_GRACE)
    recent = session.scalars(
        select(TimelineEvent)
        .where(
            TimelineEvent.incident_id == incident.id,
            TimelineEvent.kind.in_(("action_started", "action")),
            TimelineEvent.at >= since,
        )
        .order_by(TimelineEvent.id)
    )
    started: dict[int, TimelineEvent] = {}
    for event in recent:
        data = event.data or {}
        if data.get("action") != name:
            continue
        if event.kind == "action_started":
            started[event.id] = event
        else:
            started.pop(data.get("started_event", -1), None)
    return next(iter(started.values()), None)


def record(
    session: Session,
    *,
    incident: Incident,
    prepared: Prepared,
    outcome: Outcome,
    actor: str | None,
    source: str,
    now: datetime,
    started_event: int | None = None,
) -> TimelineEvent:
    """Write the `action` timeline event for one run (in the caller's transaction)."""
    name = prepared.action.name
    took = f"{outcome.duration:.1f}s"
    verdict = "succeeded" if outcome.ok else "failed"
    if outcome.timed_out:
        text = f"Action {name} timed out after {took} and was stopped"
    elif outcome.exit_code is not None:
        text = f"Action {name} {verdict}: exit code {outcome.exit_code} in {took}"
    elif outcome.status_code is not None:
        text = f"Action {name} {verdict}: HTTP {outcome.status_code} in {took}"
    else:
        text = f"Action {name} failed: {outcome.error}"
    data: dict[str, Any] = {
        "action": name,
        "type": prepared.action.kind,
        "dangerous": prepared.action.dangerous,
        "params": dict(prepared.params),
        **describe(prepared),
        "ok": outcome.ok,
        "timed_out": outcome.timed_out,
        "exit_code": outcome.exit_code,
        "status_code": outcome.status_code,
        "duration_ms": round(outcome.duration * 1000),
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "body": outcome.body,
        "truncated": outcome.truncated,
        "error": outcome.error,
        "started_event": started_event,
    }
    event = timeline.record(
        session,
        incident=incident,
        kind="action",
        text=text,
        at=now,
        actor=actor,
        source=source,
        data=data,
    )
    session.flush()  # the answer carries the event's id
    audit.record(
        session,
        "action.run",
        actor=actor or f"system:{source}",
        at=now,
        target=incident.ref,
        outcome="ok" if outcome.ok else "failed",
        details={
            "action": name,
            "event": event.id,
            "params": {key: str(value) for key, value in prepared.params.items()},
            **describe(prepared),
            "exit_code": outcome.exit_code,
            "status_code": outcome.status_code,
            "timed_out": outcome.timed_out,
            "duration_ms": round(outcome.duration * 1000),
        },
    )
    return event


def recent_runs(session: Session, *, incident: Incident, limit: int) -> list[TimelineEvent]:
    """Return the `action` events (finished runs) of the incident, newest first."""
    stmt = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "action")
        .order_by(TimelineEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
