"""Slack interactions: the buttons of warroom's incident cards and the status update form."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from warroom.api import slack_status
from warroom.api.deps import RuntimeDep
from warroom.api.errors import ERROR_RESPONSES
from warroom.api.intake_steps import configured_instances, read_body, run_guarded, unauthorized
from warroom.api.slack_people import slack_actor
from warroom.api.slack_status import StatusForm, malformed
from warroom.core.errors import WarroomError
from warroom.detection.sources import slack
from warroom.incidents.schemas import IncidentDetail
from warroom.notify import slack as slack_chat
from warroom.notify.ports import DeliveryError
from warroom.notify.slack_blocks import ACKNOWLEDGE, ACTIONS, STATUS_UPDATE, escape
from warroom.notify.slack_config import SlackConfig
from warroom.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["intake"], responses=ERROR_RESPONSES)
SOURCE = "slack"
log = logging.getLogger("warroom.api.slack")


@dataclass(frozen=True)
class ButtonPress:
    """One click on a warroom button: who pressed which one, for which incident."""

    user_id: str
    action_id: str
    number: int
    trigger_id: str = ""  # lets warroom open a form (a modal) for the presser, within 3 s
    response_url: str = ""  # where to answer the presser (Slack shows no HTTP answer body)


@dataclass(frozen=True)
class Said:
    """What to tell the person who clicked, and where (their click's response_url)."""

    text: str
    response_url: str = ""


def parse_interaction(body: bytes) -> ButtonPress | StatusForm | Said | None:
    """Read Slack's `payload=<json>` form: a button press or a submitted form of warroom's.

    Said says why there is nothing to do; None is a submitted view that is not warroom's.
    """
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True, max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise malformed("the body must be a form with one field, payload (JSON)") from None
    values = form.get("payload")
    if not values or len(values) != 1:
        raise malformed("the form must have exactly one payload field (Slack's interaction JSON)")
    try:
        payload = json.loads(values[0])
    except ValueError as exc:
        raise malformed(f"payload is not valid JSON: {exc}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise malformed("payload must be a JSON object with a type")
    response_url = payload.get("response_url")
    response_url = response_url if isinstance(response_url, str) else ""
    if payload["type"] not in ("block_actions", "view_submission"):
        # Slack marks a non-200 as failed in the user's face; say politely it is not ours.
        return Said(f"warroom does not handle {payload['type'][:40]} interactions.", response_url)
    user = payload.get("user")
    actions = payload.get("actions")
    if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
        raise malformed("payload.user.id is missing")
    if payload["type"] == "view_submission":
        return slack_status.parse_submission(payload, user["id"])
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise malformed("payload.actions must list the action that was taken")
    action = actions[0]  # Slack sends one block_actions payload per click
    action_id = action.get("action_id")
    if action_id not in ACTIONS:
        return Said("Nothing to do for this button.", response_url)  # e.g. a link button
    value = action.get("value")
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 9:
        raise malformed(f"the {action_id} button's value must be an incident number")
    trigger = payload.get("trigger_id")
    if action_id == STATUS_UPDATE and (not isinstance(trigger, str) or not trigger):
        raise malformed("payload.trigger_id is missing: Slack sends one with every click")
    return ButtonPress(
        user_id=user["id"],
        action_id=str(action_id),
        number=int(value),
        trigger_id=trigger if isinstance(trigger, str) else "",
        response_url=response_url,
    )


def _answer(config: SlackConfig, said: Said) -> Any:
    """Acknowledge the click with an empty 200 and reply to the presser through its
    response_url, after the answer: Slack waits 3 seconds at most, and shows no answer body."""
    if not said.response_url:
        # An old client or a hand-made request: the answer body is all there is.
        return {"response_type": "ephemeral", "text": escape(said.text)}
    if not slack_chat.response_url_allowed(said.response_url, config):
        log.warning("Slack interaction: response_url is not Slack's; the reply is not sent")
        return Response(status_code=200)
    return Response(status_code=200, background=BackgroundTask(_reply, said, config))


def _reply(said: Said, config: SlackConfig) -> None:
    try:
        slack_chat.reply(said.response_url, said.text, config=config)
    except DeliveryError as exc:  # the click is done; only the presser's note is lost
        log.warning("Slack interaction: the reply was not delivered: %s", exc)


def _press(runtime: Runtime, press: ButtonPress) -> str:
    """Apply a button press as the warroom user linked to the Slack user (with their role);
    return what to tell them."""
    ref = f"INC-{press.number}"
    verb = "acknowledge" if press.action_id == ACKNOWLEDGE else "resolve"
    actor = slack_actor(runtime, press.user_id, number=press.number, doing=f"{verb} {ref}")
    if isinstance(actor, str):
        return actor
    try:
        if press.action_id == ACKNOWLEDGE:
            detail = runtime.flows.acknowledge(ref, actor=actor)
            return _acknowledged(detail, str(actor.name))
        detail = runtime.flows.transition(ref, "resolve", actor=actor)
    except WarroomError as exc:  # an illegal move (409), a vanished incident (404)…
        pending = exc.details.get("open_items") if isinstance(exc.details, dict) else None
        if pending:  # the resolve gate: say what is open in words that fit a Slack button
            listed = "; ".join(f"#{i['number']} {i['text'].rstrip('.')}" for i in pending[:5])
            more = f"; and {len(pending) - 5} more" if len(pending) > 5 else ""
            return (
                f"Could not resolve {ref}: {len(pending)} verification item(s) are still open: "
                f"{listed}{more}. Mark them done or skipped in warroom, then resolve again."
            )
        return f"Could not {verb} {ref}: {exc.message}"
    return f"{detail.ref} is resolved: {detail.title}"


def _acknowledged(detail: IncidentDetail, person: str) -> str:
    if detail.acknowledged_by and detail.acknowledged_by != person:
        return f"{detail.ref} was already acknowledged by {detail.acknowledged_by}."
    return f"You acknowledged {detail.ref}: paging stops. {detail.title}"


@router.post(
    "/intake/slack/interactions",
    summary="Slack interactivity: the card buttons and the status update form (v0 signature)",
)
async def slack_interactions(request: Request, runtime: RuntimeDep) -> Any:
    """Acknowledge, resolve or post a status update from an incident's Slack card."""

    async def handle() -> Any:
        instances = configured_instances(runtime, SOURCE)
        body = await read_body(request, SOURCE, runtime.config().detection.max_body_bytes)
        config: SlackConfig = instances[0]
        secret = config.signing_secret.get_secret_value()
        if not slack.verify(body, request.headers, secret, runtime.clock.now()):
            raise unauthorized(SOURCE, "missing, stale or wrong X-Slack-Signature")
        press = parse_interaction(body)
        if press is None:
            return Response(status_code=200)  # an empty 200 closes a view that is not ours
        if isinstance(press, Said):
            return _answer(config, press)
        # The flows use the database synchronously: keep them off the event loop.
        if isinstance(press, StatusForm):
            errors = await run_in_threadpool(slack_status.submit, runtime, press)
            return Response(status_code=200) if errors is None else errors
        if press.action_id == STATUS_UPDATE:
            problem = await run_in_threadpool(
                slack_status.open_form,
                runtime,
                user_id=press.user_id,
                number=press.number,
                trigger_id=press.trigger_id,
            )
            if problem is None:
                return Response(status_code=200)
            return _answer(config, Said(problem, press.response_url))
        text = await run_in_threadpool(_press, runtime, press)
        return _answer(config, Said(text, press.response_url))

    return await run_guarded(handle)
