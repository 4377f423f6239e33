"""Twilio calling warroom: SMS replies, key presses on a page call, delivery and call status.

Every request is checked with Twilio's signature (`X-Twilio-Signature`, the SDK's
RequestValidator under the account's auth token) over the URL Twilio was given: that is
`notifications.base_url` and the path and query as received, never anything built from the
Host header, which the sender chooses.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from twilio.twiml.messaging_response import MessagingResponse  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from warroom.api.deps import RuntimeDep
from warroom.api.errors import ERROR_RESPONSES
from warroom.api.intake_steps import read_body, rejection, run_guarded
from warroom.audit import service as audit
from warroom.core.errors import Forbidden
from warroom.detection import deliveries, metrics
from warroom.escalation import acks
from warroom.incidents.details import load_detail
from warroom.runtime import Runtime

router = APIRouter(prefix="/api/v1/intake/twilio", tags=["intake"], responses=ERROR_RESPONSES)
SOURCE = "twilio"
TWIML = "application/xml"
log = logging.getLogger("warroom.api.twilio")
MAX_FIELDS = 64  # Twilio's callbacks carry about 20


def _twiml_answer(example: str) -> dict[int | str, dict[str, Any]]:
    """Document a TwiML answer (XML) in the OpenAPI document."""
    return {
        200: {
            "description": "TwiML for Twilio to act on",
            "content": {TWIML: {"schema": {"type": "string"}, "example": example}},
        }
    }


class StatusRecorded(BaseModel):
    """What a status callback did: recorded on the timeline, or a replay of one seen before."""

    recorded: bool
    duplicate: bool


class Form(dict[str, str]):
    """A posted form: the last value of each field, and every value for the validator."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__({name: values[-1] for name, values in fields.items()})
        self._all = fields

    def getlist(self, name: str) -> list[str]:
        """Return every value of a field (RequestValidator signs them all)."""
        return self._all.get(name, [])


async def _signed(request: Request, runtime: Runtime) -> Form:
    """Return the form of a request Twilio signed; refuse anything else."""
    config = runtime.config()
    twilio, base = config.integrations.twilio, config.notifications.base_url
    if twilio is None or not base:
        missing = "integrations.twilio" if twilio is None else "notifications.base_url"
        raise rejection(
            SOURCE,
            "not_configured",
            404,
            "not_found",
            f"the Twilio intake is not configured: set {missing} in warroom.yaml "
            "(Twilio signs the public URL it calls, so warroom must know it)",
        )
    body = await read_body(request, SOURCE, config.detection.max_body_bytes)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        fields = None
    query = request.scope.get("query_string", b"").decode("latin-1")
    url = base.rstrip("/") + request.url.path + (f"?{query}" if query else "")
    signature = request.headers.get("x-twilio-signature", "")
    validator = RequestValidator(twilio.auth_token.get_secret_value())
    if not signature or fields is None or not validator.validate(url, Form(fields), signature):
        metrics.rejected(SOURCE, "unauthorized")
        # Forbidden: the error handler writes the access.denied audit entry.
        raise Forbidden(
            "missing or wrong X-Twilio-Signature: it must sign "
            f"{base.rstrip('/')}{request.url.path} (notifications.base_url) with the auth "
            "token of integrations.twilio"
        )
    return Form(fields)


def _twiml(document: Any) -> Response:
    return Response(str(document), media_type=TWIML)


def _invalid(message: str) -> Exception:
    return rejection(SOURCE, "invalid", 422, "invalid", message)


@router.post(
    "/sms",
    summary="Twilio incoming SMS webhook: a reply acknowledges (TwiML answer)",
    response_class=Response,
    responses=_twiml_answer(
        "<Response><Message>INC-42 acknowledged. Thank you, alice.</Message></Response>"
    ),
)
async def twilio_sms(request: Request, runtime: RuntimeDep) -> Any:
    """Acknowledge what a reply names (`ack 42`, the page's code, `ack`); answer in TwiML."""

    async def handle() -> Response:
        form = await _signed(request, runtime)
        number = form.get("From", "")
        if not number:
            raise _invalid("an incoming message has a From number")
        acked = await run_in_threadpool(_reply, runtime, number, form.get("Body", ""))
        answer = MessagingResponse()
        answer.message(acked.message)
        return _twiml(answer)

    return await run_guarded(handle)


def _reply(runtime: Runtime, number: str, text: str) -> acks.Acked:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        acked = acks.by_reply(
            session, config=runtime.config(), number=number, text=text[:200], now=now
        )
        detail = _audited(session, acked, "sms", now)
    _finish(runtime, detail)
    if not acked.ok:
        log.info("Twilio SMS from %s acknowledged nothing: %s", "…" + number[-4:], acked.message)
    return acked


@router.post(
    "/voice",
    summary="Twilio Gather action of a page call: pressing 1 acknowledges (TwiML answer)",
    response_class=Response,
    responses=_twiml_answer(
        "<Response><Say>Incident 42 is acknowledged. Thank you. Goodbye.</Say><Hangup/></Response>"
    ),
)
async def twilio_voice(request: Request, runtime: RuntimeDep) -> Any:
    """Acknowledge when the callee pressed 1; say what came of it."""

    async def handle() -> Response:
        form = await _signed(request, runtime)
        token = request.query_params.get("link", "")
        twilio = runtime.config().integrations.twilio
        assert twilio is not None  # _signed checked it
        answer = VoiceResponse()
        if form.get("Digits") != "1":
            said = "Not acknowledged. Paging goes on. Goodbye."
        else:
            said = await run_in_threadpool(_press, runtime, token)
        answer.say(said, voice=twilio.voice, language=twilio.language)
        answer.hangup()
        return _twiml(answer)

    return await run_guarded(handle)


def _press(runtime: Runtime, token: str) -> str:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        view, acked = acks.by_link(session, token=token, now=now, via="voice")
        detail = _audited(session, acked, "voice", now) if acked is not None else None
    _finish(runtime, detail)
    return _spoken(view, acked, made=detail is not None)


def _spoken(view: acks.LinkView, acked: acks.Acked | None, *, made: bool) -> str:
    """Say what a key press came to (the incident by number only: it may be restricted)."""
    number = view.incident.number if view.incident is not None else None
    if acked is not None and acked.incident is not None:
        if not acked.ok:
            return f"Not acknowledged: incident {number} is {acked.incident.status}. Goodbye."
        if made:
            return f"Incident {number} is acknowledged. Thank you. Goodbye."
        by = acked.incident.acknowledged_by or "someone"
        return f"Incident {number} was already acknowledged by {by}. Goodbye."
    if view.state == "acknowledged":
        by = view.acknowledged_by or "someone"
        return f"Incident {number} was already acknowledged by {by}. Goodbye."
    if view.state == "used":
        return "This page was already used to acknowledge. Goodbye."
    if view.state == "expired":
        return f"Paging for incident {number} is over: nothing to acknowledge. Goodbye."
    return "This page is no longer valid. Goodbye."


@router.post(
    "/status",
    summary="Twilio status callback of a page SMS or call: delivered, failed, no answer, busy",
    response_model=StatusRecorded,
)
async def twilio_status(request: Request, runtime: RuntimeDep) -> Any:
    """Put a page's delivery or call outcome on the timeline; a failure moves on at once."""

    async def handle() -> StatusRecorded:
        form = await _signed(request, runtime)
        if form.get("MessageStatus") and form.get("MessageSid"):
            sid, status = form["MessageSid"], form["MessageStatus"]
        elif form.get("CallStatus") and form.get("CallSid"):
            sid, status = form["CallSid"], form["CallStatus"]
        else:
            raise _invalid(
                "a status callback has MessageSid and MessageStatus, or CallSid and CallStatus"
            )
        code = form.get("ErrorCode")
        error = f"Twilio error {code}" if code else None
        # The page's outbox key rides in the (signed) URL the page gave Twilio.
        key = request.query_params.get("key")
        return await run_in_threadpool(
            _status, runtime, sid[:64], status[:32], error, key[:200] if key else None
        )

    return await run_guarded(handle)


def _status(
    runtime: Runtime, sid: str, status: str, error: str | None, key: str | None
) -> StatusRecorded:
    final = status in acks.SMS_STATES or status in acks.CALL_STATES
    if not final:  # on the way (queued, sent, ringing…): nothing for the timeline
        return StatusRecorded(recorded=False, duplicate=False)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        # Twilio may send a callback again: each (SID, status) counts once.
        seen = [f"{sid}:{status}"]
        if not deliveries.claim(session, source=SOURCE, ids=seen, now=now):
            metrics.rejected(SOURCE, "duplicate")
            return StatusRecorded(recorded=False, duplicate=True)
        recorded = acks.record_status(
            session, provider_id=sid, status=status, now=now, error=error, key=key
        )
    if not recorded:
        log.info("Twilio status %s for %s: no page was sent under that SID", status, sid)
    return StatusRecorded(recorded=recorded, duplicate=False)


def _audited(session: Any, acked: acks.Acked, via: str, now: datetime) -> Any:
    """Audit an acknowledgement this request made; return the incident's detail (else None)."""
    incident = acked.incident
    made = (
        acked.ok
        and incident is not None
        and acked.person is not None
        and incident.acknowledged_at == now
        and incident.acknowledged_by == acked.person
    )
    if not made or incident is None:
        return None
    audit.record(
        session,
        "incident.acknowledge",
        actor=acked.person,
        at=now,
        target=incident.ref,
        details={"via": via},
    )
    return load_detail(session, incident)


def _finish(runtime: Runtime, detail: Any) -> None:
    """After the commit: the runbook file and the listeners, as every acknowledgement does."""
    if detail is not None:
        runtime.flows.finish("acknowledged", detail)
