"""`/api/v1/me/contact-methods` and `/api/v1/me/notification-rules`: how the caller is paged.

Any role: a viewer too may set up how to be reached. Each caller sees and changes only their
own methods and rules, so addresses are shown in full. A new method's code is sent at once
through the adapter of its kind, before anything is written: a code that cannot be sent
leaves nothing behind. The code itself is never logged nor audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from warroom.api.contact_flows import (
    add_method,
    clear_rules,
    remove_method,
    resend_code,
    set_rules,
    verify_method,
)
from warroom.api.deps import RuntimeDep, Viewer
from warroom.api.errors import ERROR_RESPONSES, ErrorBody
from warroom.core.durations import format_duration
from warroom.escalation import self_service as service
from warroom.escalation import self_service_rules as rules_service
from warroom.escalation.self_service import MethodView
from warroom.escalation.self_service_rules import EffectiveRules
from warroom.organisation import RuleStep

router = APIRouter(prefix="/api/v1/me", tags=["auth"], responses=ERROR_RESPONSES)
SENT: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many codes sent in the last hour"},
    502: {"model": ErrorBody, "description": "The code could not be sent (the adapter's reason)"},
}
MethodName = Annotated[str, Path(min_length=1, max_length=64, description="The method's name")]


class MethodIn(BaseModel):
    """A contact method to add: its name (used in rules), type and address."""

    name: str = Field(min_length=1, max_length=64, examples=["mobile"])
    type: str = Field(min_length=1, max_length=16, examples=["sms"])
    to: str = Field(min_length=1, max_length=500, examples=["+4915112345678"])


class CodeIn(BaseModel):
    """The code that was sent to the method's address."""

    code: str = Field(min_length=1, max_length=16, examples=["123456"])


class MethodOut(BaseModel):
    """One contact method of the caller's."""

    name: str
    type: str
    to: str
    source: str = Field(description="`warroom.yaml` (read-only) or `own` (added here)")
    read_only: bool
    verified: bool
    created_at: datetime | None = None
    verified_at: datetime | None = None
    code_sent_at: datetime | None = None
    message: str | None = None


class MethodsOut(BaseModel):
    """The caller's contact methods: warroom.yaml's first."""

    methods: list[MethodOut]
    limit: int = Field(description="How many methods of their own a person may add")


class RemovedOut(BaseModel):
    """A method removed, and what that means for the caller's rules."""

    removed: str
    warnings: list[str]


class StepIn(BaseModel):
    """One rule step: after a delay (`0s`, `2m`), page through these methods or types."""

    after: str | int = Field(default="0s", examples=["2m"])
    via: list[str] = Field(examples=[["sms"]])


class StepOut(BaseModel):
    """One rule step in force."""

    after: str
    after_seconds: int
    via: list[str]


class RulesIn(BaseModel):
    """The caller's own notification rules, in order of `after`."""

    steps: list[StepIn] = Field(max_length=50)


class RulesOut(BaseModel):
    """The rules in force: `own`, `warroom.yaml`, or `notifications.rules` per severity."""

    source: str
    steps: list[StepOut]
    by_severity: dict[str, list[StepOut]]
    warnings: list[str]


def method_out(view: MethodView, message: str | None = None) -> MethodOut:
    """Return a method as the API shows it to its owner."""
    return MethodOut(
        name=view.name,
        type=view.kind,
        to=view.address,
        source=view.source,
        read_only=view.read_only,
        verified=view.verified,
        created_at=view.created_at,
        verified_at=view.verified_at,
        code_sent_at=view.code_sent_at,
        message=message,
    )


def steps_out(steps: list[RuleStep]) -> list[StepOut]:
    """Return rule steps as the API shows them."""
    return [
        StepOut(
            after=format_duration(s.after),
            after_seconds=int(s.after.total_seconds()),
            via=list(s.via),
        )
        for s in steps
    ]


def rules_out(rules: EffectiveRules) -> RulesOut:
    """Return the rules in force as the API shows them."""
    return RulesOut(
        source=rules.source,
        steps=steps_out(rules.steps),
        by_severity={sev: steps_out(steps) for sev, steps in rules.by_severity.items()},
        warnings=rules.warnings,
    )


# -- routes ----------------------------------------------------------------------------------


@router.get("/contact-methods", response_model=MethodsOut)
def list_methods(principal: Viewer, runtime: RuntimeDep) -> MethodsOut:
    """List your contact methods: warroom.yaml's (read-only) and your own, verified or not."""
    with runtime.db.session() as session:
        views = service.list_methods(session, config=runtime.config(), person=principal.name)
    return MethodsOut(methods=[method_out(v) for v in views], limit=service.MAX_METHODS)


@router.post("/contact-methods", status_code=201, response_model=MethodOut, responses=SENT)
def add(body: MethodIn, principal: Viewer, runtime: RuntimeDep) -> MethodOut:
    """Add a contact method; a code goes to its address at once (confirm it with verify)."""
    view = add_method(runtime, person=principal.name, name=body.name, kind=body.type, to=body.to)
    said = f"a code was sent to {view.address}: confirm it with POST …/{view.name}/verify"
    return method_out(view, said)


@router.post("/contact-methods/{name}/verify", response_model=MethodOut)
def verify(name: MethodName, body: CodeIn, principal: Viewer, runtime: RuntimeDep) -> MethodOut:
    """Confirm a method with the code sent to it (5 wrong codes, or 15 minutes, end a code)."""
    view = verify_method(runtime, person=principal.name, name=name, code=body.code)
    return method_out(view, f"{name} is verified: pages can use it now")


@router.post("/contact-methods/{name}/resend", response_model=MethodOut, responses=SENT)
def resend(name: MethodName, principal: Viewer, runtime: RuntimeDep) -> MethodOut:
    """Send a new code to an unverified method (at most once every 30 seconds)."""
    view = resend_code(runtime, person=principal.name, name=name)
    return method_out(view, f"a new code was sent to {view.address}")


@router.delete("/contact-methods/{name}", response_model=RemovedOut)
def remove(name: MethodName, principal: Viewer, runtime: RuntimeDep) -> RemovedOut:
    """Remove one of your own methods (warroom.yaml's are changed there)."""
    warnings = remove_method(runtime, person=principal.name, name=name)
    return RemovedOut(removed=name, warnings=warnings)


@router.get("/notification-rules", response_model=RulesOut)
def get_rules(principal: Viewer, runtime: RuntimeDep) -> RulesOut:
    """Show the rules that page you, and where they come from."""
    with runtime.db.session() as session:
        rules = rules_service.effective_rules(
            session, config=runtime.config(), person=principal.name
        )
    return rules_out(rules)


@router.put("/notification-rules", response_model=RulesOut)
def put_rules(body: RulesIn, principal: Viewer, runtime: RuntimeDep) -> RulesOut:
    """Set your own rules: ordered steps, each a delay and the methods (or types) to use."""
    steps = [step.model_dump() for step in body.steps]
    return rules_out(set_rules(runtime, person=principal.name, steps=steps))


@router.delete("/notification-rules", response_model=RulesOut)
def delete_rules(principal: Viewer, runtime: RuntimeDep) -> RulesOut:
    """Drop your own rules: warroom.yaml's or the defaults apply again."""
    return rules_out(clear_rules(runtime, person=principal.name))
