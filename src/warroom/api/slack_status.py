"""Status updates from Slack: the card's button opens a form (views.open); submitting posts it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from warroom.api.intake_steps import Rejected, rejection
from warroom.api.slack_people import slack_actor
from warroom.api.status import post_status_update
from warroom.core.errors import WarroomError
from warroom.incidents import service as incidents
from warroom.incidents.states import check_not_closed
from warroom.notify.ports import DeliveryError
from warroom.notify.slack import SlackChat
from warroom.notify.slack_views import (
    BODY_BLOCK,
    PRIVATE,
    PUBLIC,
    STATUS_BLOCK,
    STATUS_CALLBACK,
    TITLE_BLOCK,
    VISIBILITY_BLOCK,
    field_errors,
    status_update_view,
)
from warroom.runtime import Runtime
from warroom.status import service
from warroom.status.models import PUBLIC_TITLE_MAX

SOURCE = "slack"
# Which block of the form shows a refusal about which field of the status service.
_BLOCK_OF = {
    "status": STATUS_BLOCK,
    "body": BODY_BLOCK,
    "public_title": TITLE_BLOCK,
    "public": VISIBILITY_BLOCK,
}


@dataclass(frozen=True)
class StatusForm:
    """A submitted status update form: who sent it, for which incident, and its fields."""

    user_id: str
    number: int
    status: str | None
    public_title: str | None  # None: left empty (or the form had no such field)
    body: str | None
    visibility: str | None


def malformed(message: str) -> Rejected:
    """Return the counted 400 for a payload Slack would never send."""
    return rejection(SOURCE, "malformed", 400, "malformed", message)


def parse_submission(payload: dict[str, Any], user_id: str) -> StatusForm | None:
    """Read a view_submission; None when the view is not warroom's status update form."""
    view = payload.get("view")
    if not isinstance(view, dict):
        raise malformed("payload.view must be the submitted view (a JSON object)")
    if view.get("callback_id") != STATUS_CALLBACK:
        return None
    number = view.get("private_metadata")
    if not isinstance(number, str) or not number.isascii() or not number.isdigit():
        raise malformed("view.private_metadata must be the incident number warroom put there")
    if len(number) > 9:
        raise malformed("view.private_metadata must be the incident number warroom put there")
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(values, dict):
        raise malformed("view.state.values must hold the form's fields")
    title = _text(values, TITLE_BLOCK)
    return StatusForm(
        user_id=user_id,
        number=int(number),
        status=_choice(values, STATUS_BLOCK),
        public_title=(" ".join(title.split()) or None) if title is not None else None,
        body=_text(values, BODY_BLOCK),
        visibility=_choice(values, VISIBILITY_BLOCK),
    )


def _action(values: dict[str, Any], block: str) -> dict[str, Any] | None:
    """Return the state of the form's one input in `block` (block and action share the id)."""
    found = values.get(block)
    if found is None:
        return None
    action = found.get(block) if isinstance(found, dict) else None
    if not isinstance(action, dict):
        raise malformed(f"view.state.values.{block} must hold the {block} input")
    return action


def _text(values: dict[str, Any], block: str) -> str | None:
    action = _action(values, block)
    value = action.get("value") if action is not None else None
    if value is not None and not isinstance(value, str):
        raise malformed(f"view.state.values.{block}.{block}.value must be text")
    return value


def _choice(values: dict[str, Any], block: str) -> str | None:
    action = _action(values, block)
    option = action.get("selected_option") if action is not None else None
    if option is None:
        return None
    value = option.get("value") if isinstance(option, dict) else None
    if not isinstance(value, str):
        raise malformed(f"view.state.values.{block}.{block}.selected_option must be an option")
    return value


def open_form(runtime: Runtime, *, user_id: str, number: int, trigger_id: str) -> str | None:
    """Open the status update form for whoever pressed; return what to tell them if it can't."""
    ref = f"INC-{number}"
    actor = slack_actor(runtime, user_id, number=number, doing=f"post a status update on {ref}")
    if isinstance(actor, str):
        return actor
    with runtime.adapters_in_use() as adapters:
        return _open_form(runtime, adapters.chat, ref=ref, number=number, trigger_id=trigger_id)


def _open_form(
    runtime: Runtime, chat: object, *, ref: str, number: int, trigger_id: str
) -> str | None:
    """Open the form through `chat` (kept open by the caller)."""
    if not isinstance(chat, SlackChat):
        return (
            "warroom cannot open the status update form: integrations.slack has no bot_token "
            f"(Slack's views.open needs it). Post it with `warroom incident status-update {ref}`."
        )
    with runtime.db.session() as session:
        try:
            incident = incidents.get(session, number)
            check_not_closed(ref, incident.status, "its status-page updates are over")
        except WarroomError as exc:
            return f"Cannot post a status update on {ref}: {exc.message}"
        latest = service.updates(session, incident=incident)
        view = status_update_view(
            number=number,
            public_title=service.public_title(session, incident_id=incident.id),
            restricted=incident.visibility != "public",
            status=latest[0].status if latest else None,
            title_max=PUBLIC_TITLE_MAX,
        )
    try:
        chat.open_view(trigger_id=trigger_id, view=view)
    except DeliveryError as exc:  # e.g. expired_trigger_id: Slack waited 3 s at most
        return f"Slack would not open the status update form for {ref}: {exc}"
    return None


def submit(runtime: Runtime, form: StatusForm) -> dict[str, Any] | None:
    """Post the submitted update; return Slack's field errors, or None to close the form."""
    ref = f"INC-{form.number}"
    actor = slack_actor(
        runtime, form.user_id, number=form.number, doing=f"post a status update on {ref}"
    )
    if isinstance(actor, str):
        return field_errors({STATUS_BLOCK: actor})
    missing = {}
    if form.status is None:
        missing[STATUS_BLOCK] = "Choose a status."
    if not (form.body or "").strip():
        missing[BODY_BLOCK] = "Write what people should know."
    if form.visibility not in (PUBLIC, PRIVATE):
        missing[VISIBILITY_BLOCK] = "Choose who sees it."
    if missing:
        return field_errors(missing)
    public = form.visibility == PUBLIC
    title = form.public_title
    if not public and title is not None:
        with runtime.db.session() as session:
            try:
                current = service.public_title(
                    session, incident_id=incidents.get(session, form.number).id
                )
            except WarroomError as exc:
                return field_errors({STATUS_BLOCK: exc.message})
        if title != current:
            return field_errors(
                {TITLE_BLOCK: "A public title is for public updates: empty it or choose Public."}
            )
        title = None  # the form's prefill, untouched: not a request to rename
    try:
        post_status_update(
            runtime,
            ref,
            actor=actor,
            status=str(form.status),
            body=str(form.body),
            components={},
            public=public,
            public_title=title,
        )
    except service.PublicTitleNeeded:
        return field_errors(
            {
                TITLE_BLOCK: f"The first public update of {ref} needs a public title: "
                "the incident's own title is internal."
            }
        )
    except WarroomError as exc:  # a closed or vanished incident, a restricted one made public…
        field = exc.details.get("field") if isinstance(exc.details, dict) else None
        block = _BLOCK_OF.get(str(field), STATUS_BLOCK)
        return field_errors({block: exc.message[:1].upper() + exc.message[1:]})
    return None
