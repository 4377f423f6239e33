"""API shapes for actions: the configured list, a run request, its result and past runs."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from warroom.core.types import Name
from warroom.mitigation.action_service import Prepared, describe
from warroom.mitigation.actions import ActionConfig
from warroom.mitigation.runner import Outcome

if TYPE_CHECKING:
    from warroom.incidents.models import TimelineEvent

ParamValue = Annotated[str, StringConstraints(max_length=1_000)]


class ActionParamOut(BaseModel):
    """A param an action takes."""

    name: str
    pattern: str
    required: bool
    description: str | None


class ActionOut(BaseModel):
    """A configured action, as responders see it (never its env or headers)."""

    name: str
    description: str
    type: Literal["command", "http"]
    dangerous: bool
    timeout: float
    allowed_roles: list[str]
    params: list[ActionParamOut]

    @classmethod
    def of(cls, action: ActionConfig) -> ActionOut:
        """Return the public view of a configured action."""
        return cls(
            name=action.name,
            description=action.description,
            type=action.kind,
            dangerous=action.dangerous,
            timeout=action.timeout,
            allowed_roles=list(action.allowed_roles),
            params=[
                ActionParamOut(
                    name=name, pattern=p.pattern, required=p.required, description=p.description
                )
                for name, p in action.params.items()
            ],
        )


class ActionList(BaseModel):
    """Every configured action."""

    items: list[ActionOut]


class ActionRun(BaseModel):
    """Run an action: its params, and `confirm: true` for one marked dangerous."""

    model_config = ConfigDict(extra="forbid")

    params: dict[Name, ParamValue] = Field(default_factory=dict, max_length=50)
    confirm: bool = False


class ActionResult(BaseModel):
    """What happened: `ok` false for a non-zero exit, a bad HTTP status or a timeout."""

    incident: str
    action: str
    type: Literal["command", "http"]
    ok: bool
    timed_out: bool
    exit_code: int | None
    status_code: int | None
    duration_ms: int
    command: list[str] | None = None
    request: str | None = None
    stdout: str
    stderr: str
    body: str
    truncated: bool
    error: str | None
    event_id: int

    @classmethod
    def of(cls, prepared: Prepared, outcome: Outcome, event_id: int) -> ActionResult:
        """Return the answer for one run."""
        shown: dict[str, Any] = describe(prepared)
        return cls(
            incident=prepared.incident_ref,
            action=prepared.action.name,
            type=prepared.action.kind,
            ok=outcome.ok,
            timed_out=outcome.timed_out,
            exit_code=outcome.exit_code,
            status_code=outcome.status_code,
            duration_ms=round(outcome.duration * 1000),
            command=shown.get("command"),
            request=shown.get("request"),
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            body=outcome.body,
            truncated=outcome.truncated,
            error=outcome.error,
            event_id=event_id,
        )


class ActionRunRecord(BaseModel):
    """A past run, as its `action` timeline event keeps it: who, what, when, how it ended."""

    event_id: int
    at: datetime
    actor: str | None
    action: str
    ok: bool
    timed_out: bool
    exit_code: int | None
    status_code: int | None
    duration_ms: int
    command: list[str] | None
    request: str | None
    stdout: str
    stderr: str
    body: str
    truncated: bool
    error: str | None

    @property
    def command_line(self) -> str | None:
        """Return the command as a shell would read it (quoted), or None for an HTTP action."""
        return shlex.join(self.command) if self.command is not None else None

    @classmethod
    def of(cls, event: TimelineEvent) -> ActionRunRecord:
        """Read a run from its event (fields an older event lacks count as empty)."""
        data = event.data or {}
        command = data.get("command")
        return cls(
            event_id=event.id,
            at=event.at,
            actor=event.actor,
            action=str(data.get("action") or "?"),
            ok=bool(data.get("ok")),
            timed_out=bool(data.get("timed_out")),
            exit_code=data.get("exit_code"),
            status_code=data.get("status_code"),
            duration_ms=int(data.get("duration_ms") or 0),
            command=[str(part) for part in command] if isinstance(command, list) else None,
            request=data.get("request"),
            stdout=str(data.get("stdout") or ""),
            stderr=str(data.get("stderr") or ""),
            body=str(data.get("body") or ""),
            truncated=bool(data.get("truncated")),
            error=data.get("error"),
        )
