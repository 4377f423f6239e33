"""What adding, verifying and removing a contact method does, for the API and the profile page.

A new method's code is sent at once through the adapter of its kind, before anything is
written: a code that cannot be sent leaves nothing behind. The code itself is never logged
nor audited; every send attempt is, and counts towards a person's hourly budget.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from warroom.audit import service as audit
from warroom.auth.throttle import Throttled
from warroom.core.errors import Conflict, Invalid, WarroomError
from warroom.escalation import self_service as service
from warroom.escalation import self_service_rules as rules_service
from warroom.escalation.contacts import NEEDS
from warroom.escalation.self_service import MethodView
from warroom.escalation.self_service_rules import EffectiveRules
from warroom.notify.ports import Adapters, PushNote
from warroom.organisation import KIND_NAMES
from warroom.runtime import Runtime

# Codes a person may have sent in an hour: each SMS or call costs money and reaches a number
# that may not be theirs, so adding and removing in a loop must not become a texting service.
CODES_PER_HOUR = 10
SENDS = ("contact.add", "contact.resend")
MESSAGE = "Your warroom verification code is {code} (valid 15 minutes)."


class SendFailed(WarroomError):
    """The adapter of the method's kind could not deliver the code."""

    code = "send_failed"
    status = 502


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


def _attempt(send: Callable[[str, str], None], to: str, code: str) -> Exception | None:
    """Send the code; return what went wrong, if anything."""
    try:
        send(to, code)
    except Exception as exc:  # every adapter failure is the caller's 502, whatever its class
        return exc
    return None


def _send(runtime: Runtime, *, person: str, name: str, kind: str, to: str, code: str) -> None:
    """Send the code now; raise SendFailed (502) with the adapter's reason, audited."""
    with runtime.adapters_in_use() as adapters:
        send = sender_for(adapters, kind)
        check_budget(runtime, person=person)
        failure = _attempt(send, to, code)
    if failure is not None:
        reason = str(failure)[:200] or type(failure).__name__
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
        rules = rules_service.set_rules(
            session, config=runtime.config(), person=person, steps=steps, now=now
        )
        details = {"steps": [s.model_dump(mode="json") for s in rules.steps]}
        audit.record(session, "rules.set", actor=person, at=now, target=person, details=details)
    return rules


def clear_rules(runtime: Runtime, *, person: str) -> EffectiveRules:
    """Drop the caller's own rules; audited as rules.clear."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        rules = rules_service.clear_rules(session, config=runtime.config(), person=person)
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
