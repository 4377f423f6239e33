"""`/api/v1/me/contact-methods` and `/api/v1/me/notification-rules`: how the caller is paged.

Any role: a viewer too may set up how to be reached. Each caller sees and changes only their
own methods and rules, so addresses are shown in full. A new method's code is sent at once
through the adapter of its kind, before anything is written: a code that cannot be sent
leaves nothing behind. The code itself is never logged nor audited.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from warroom.api.deps import RuntimeDep, Viewer
from warroom.api.errors import ERROR_RESPONSES, ErrorBody
from warroom.audit import service as audit
from warroom.auth.throttle import Throttled
from warroom.core.durations import format_duration
from warroom.core.errors import Conflict, Invalid, WarroomError
from warroom.escalation import self_service as service
from warroom.escalation.contacts import NEEDS
from warroom.escalation.self_service import EffectiveRules, MethodView
from warroom.notify.ports import Adapters, PushNote
from warroom.organisation import KIND_NAMES, RuleStep
from warroom.runtime import Runtime

router = APIRouter(prefix="/api/v1/me", tags=["auth"], responses=ERROR_RESPONSES)
SENT: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "Too many codes sent in the last hour"},
    502: {"model": ErrorBody, "description": "The code could not be sent (the adapter's reason)"},
}
# Codes a person may have sent in an hour: each SMS or call costs money and reaches a number
# that may not be theirs, so adding and removing in a loop must not become a texting service.
CODES_PER_HOUR = 10
SENDS = ("contact.add", "contact.resend")
MethodName = Annotated[str, Path(min_length=1, max_length=64, description="The method's name")]
MESSAGE = "Your warroom verification code is {code} (valid 15 minutes)."


class SendFailed(WarroomError):
    """The adapter of the method's kind could not deliver the code."""

    code = "send_failed"
    status = 502


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


# -- the flows the API and the profile page share --------------------------------------------


def sender_for(adapters: Adapters, kind: str) -> Callable[[str, str], None]:
    """Return what sends a code to an address of `kind`; raise Conflict if none is set up."""
    key = f"contact-code-{secrets.token_hex(8)}"  # never the code: it travels as a header
    text = MESSAGE.format
    chat, mailer, phone, push = adapters.chat, adapters.mailer, adapters.phone, adapters.push
    if kind == "chat" and chat is not None:
        return lambda to, code: _done(chat.post(channel=to, text=text(code=code), key=key))
    if kind == "email" and mailer is not None:
        subject = "Your warroom verification code"
        return lambda to, code: _done(
            mailer.send(to=[to], subject=subject, text=text(code=code), html=None, key=key)
        )
    if kind == "sms" and phone is not None:
        return lambda to, code: _done(
            phone.send_sms(to=to, body=text(code=code), key=key, status_callback=None)
        )
    if kind == "voice" and phone is not None:
        return lambda to, code: _done(
            phone.call(to=to, text=spoken(code), gather_url=None, key=key, status_callback=None)
        )
    if kind == "push" and push is not None:
        title = "warroom verification code"
        return lambda to, code: _done(
            push.push(url=to, note=PushNote(title=title, body=text(code=code)), key=key)
        )
    if kind not in NEEDS:
        raise Invalid(f"unknown contact method type {kind!r}", {"field": "type"})
    raise Conflict(
        f"{KIND_NAMES[kind]} is not configured ({NEEDS[kind]}): ask an admin to set it up"
    )


def spoken(code: str) -> str:
    """Return what a call says: the digits one by one, slowly, twice."""
    digits = ", ".join(code)
    return f"Your warroom verification code is: {digits}. Again: {digits}. It is valid 15 minutes."


def _done(_answer: object) -> None:
    """Drop the provider's id: nothing about a code is kept but its digest."""


def check_budget(runtime: Runtime, *, person: str) -> None:
    """Raise Throttled (429) when the person has had CODES_PER_HOUR codes sent in the last hour.

    Counted from the audit log (every send attempt is there), so every instance agrees.
    """
    now = runtime.clock.now()
    since = now - timedelta(hours=1)
    with runtime.db.session() as session:
        stmt = audit.query(since=since, actor=person, action="contact.", limit=CODES_PER_HOUR * 5)
        sent = sorted(e.at for e in session.scalars(stmt) if e.action in SENDS and e.at > since)
    if len(sent) >= CODES_PER_HOUR:
        wait = max(1, math.ceil((sent[-CODES_PER_HOUR] + timedelta(hours=1) - now).total_seconds()))
        raise Throttled(
            f"{CODES_PER_HOUR} codes were sent to your contact methods in the last hour; "
            f"try again in {math.ceil(wait / 60)} minute(s)",
            retry_after=wait,
        )


def _send(runtime: Runtime, *, person: str, name: str, kind: str, to: str, code: str) -> None:
    """Send the code now; raise SendFailed (502) with the adapter's reason, audited."""
    send = sender_for(runtime.adapters(), kind)
    check_budget(runtime, person=person)
    try:
        send(to, code)
    except Exception as exc:  # every adapter failure is the caller's 502, whatever its class
        reason = str(exc)[:200] or type(exc).__name__
        audit.record_now(
            runtime.db,
            "contact.add",
            actor=person,
            at=runtime.clock.now(),
            target=f"{person}/{name}",
            outcome="failed",
            details={"name": name, "kind": kind, "reason": reason},
        )
        raise SendFailed(f"the code could not be sent to {name!r}: {reason}") from None


def add_method(runtime: Runtime, *, person: str, name: str, kind: str, to: str) -> MethodView:
    """Check the method, send its code, then add it unverified (nothing is written on failure)."""
    config = runtime.config()
    with runtime.db.session() as session:
        address = service.check_new(
            session, config=config, person=person, name=name, kind=kind, address=to
        )
    code = service.new_code()
    _send(runtime, person=person, name=name, kind=kind, to=address, code=code)
    try:
        return _add_row(runtime, person=person, name=name, kind=kind, address=address, code=code)
    except IntegrityError:  # the same name added at the same moment (PostgreSQL)
        raise Conflict(f"you already have a contact method named {name!r}") from None


def _add_row(
    runtime: Runtime, *, person: str, name: str, kind: str, address: str, code: str
) -> MethodView:
    config, now = runtime.config(), runtime.clock.now()
    with runtime.db.transaction() as session:
        row, _code = service.add(
            session,
            config=config,
            person=person,
            name=name,
            kind=kind,
            address=address,
            now=now,
            code=code,
        )
        _audit(session, "contact.add", person, name, now, kind=kind)
        return service.view_of(row)


def resend_code(runtime: Runtime, *, person: str, name: str) -> MethodView:
    """Send a new code for an unverified method (at most one each 30 s)."""
    config = runtime.config()
    with runtime.db.session() as session:
        row = service.check_resend(
            session, config=config, person=person, name=name, now=runtime.clock.now()
        )
        kind, address = row.kind, row.address
    code = service.new_code()
    _send(runtime, person=person, name=name, kind=kind, to=address, code=code)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        row, _code = service.resend(
            session, config=config, person=person, name=name, now=now, code=code
        )
        _audit(session, "contact.resend", person, name, now, kind=kind)
        return service.view_of(row)


def verify_method(runtime: Runtime, *, person: str, name: str, code: str) -> MethodView:
    """Check the code; a wrong one counts (committed) and answers 422."""
    config, now = runtime.config(), runtime.clock.now()
    try:
        with runtime.db.transaction() as session:
            result = service.verify(
                session, config=config, person=person, name=name, code=code, now=now
            )
            outcome = "ok" if result.ok else "failed"
            left = result.attempts_left
            _audit(session, "contact.verify", person, name, now, outcome, attempts_left=left)
            view = next(
                m
                for m in service.list_methods(session, config=config, person=person)
                if m.name == name
            )
    except WarroomError as exc:  # expired, too many tries, no code: refused before any change
        audit.record_now(
            runtime.db,
            "contact.verify",
            actor=person,
            at=now,
            target=f"{person}/{name}",
            outcome="failed",
            details={"name": name, "reason": exc.message},
        )
        raise
    if not result.ok:
        raise Invalid(result.message, {"field": "code", "attempts_left": result.attempts_left})
    return view


def remove_method(runtime: Runtime, *, person: str, name: str) -> list[str]:
    """Remove one of the caller's own methods; return warnings about their rules."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        warnings = service.remove(session, config=runtime.config(), person=person, name=name)
        _audit(session, "contact.remove", person, name, now)
    return warnings


def set_rules(runtime: Runtime, *, person: str, steps: list[Any]) -> EffectiveRules:
    """Set the caller's own rules; audited as rules.set."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        rules = service.set_rules(
            session, config=runtime.config(), person=person, steps=steps, now=now
        )
        details = {"steps": [s.model_dump(mode="json") for s in rules.steps]}
        audit.record(session, "rules.set", actor=person, at=now, target=person, details=details)
    return rules


def clear_rules(runtime: Runtime, *, person: str) -> EffectiveRules:
    """Drop the caller's own rules; audited as rules.clear."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        rules = service.clear_rules(session, config=runtime.config(), person=person)
        audit.record(session, "rules.clear", actor=person, at=now, target=person)
    return rules


def _audit(
    session: Any,
    action: str,
    person: str,
    name: str,
    at: datetime,
    outcome: str = "ok",
    **details: Any,
) -> None:
    audit.record(
        session,
        action,
        actor=person,
        at=at,
        target=f"{person}/{name}",
        outcome=outcome,
        details={"name": name, **details},
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
        rules = service.effective_rules(session, config=runtime.config(), person=principal.name)
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
