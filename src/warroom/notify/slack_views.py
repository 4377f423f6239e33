"""Block Kit modals: the status update form the card's "Status update" button opens."""

from __future__ import annotations

from typing import Any

from warroom.notify.slack_blocks import Block

STATUS_CALLBACK = "warroom_status_update"  # the view's callback_id; Slack echoes it on submit
# Slack reports a submission as view.state.values[block_id][action_id]; one id serves both.
STATUS_BLOCK = "status"
TITLE_BLOCK = "public_title"
BODY_BLOCK = "body"
VISIBILITY_BLOCK = "visibility"
PUBLIC, PRIVATE = "public", "private"
# Slack's documented limits: a plain_text_input holds at most 3000 characters.
INPUT_LIMIT = 3000
_STATUSES = (
    ("investigating", "Investigating"),
    ("identified", "Identified"),
    ("monitoring", "Monitoring"),
    ("resolved", "Resolved"),
)
_VISIBILITY = {
    PUBLIC: "Public: the status page, its feed and Statuspage",
    PRIVATE: "Internal only: the incident's timeline",
}


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


def status_update_view(
    *,
    number: int,
    public_title: str | None,
    restricted: bool,
    status: str | None = None,
    title_max: int = 200,
) -> dict[str, Any]:
    """Return the modal for a status update on INC-`number`; it never shows the internal title.

    `public_title` prefills the title field (the incident's current public name); a
    restricted incident's form offers internal-only updates and no public title.
    """
    ref = f"INC-{number}"
    statuses = [_option(value, label) for value, label in _STATUSES]
    status_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": STATUS_BLOCK,
        "placeholder": _plain("Choose a status"),
        "options": statuses,
    }
    chosen = next((o for o in statuses if o["value"] == status), None)
    if chosen is not None:  # Slack refuses an initial_option that is not one of the options
        status_select["initial_option"] = chosen
    blocks: list[Block] = [
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _intro(ref, restricted)}],
        },
        {
            "type": "input",
            "block_id": STATUS_BLOCK,
            "label": _plain("Status"),
            "element": status_select,
        },
    ]
    if not restricted:
        title_input: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": TITLE_BLOCK,
            "max_length": min(title_max, INPUT_LIMIT),
            "placeholder": _plain("What the public sees, e.g. Slow checkout for some customers"),
        }
        if public_title:
            title_input["initial_value"] = public_title
        blocks.append(
            {
                "type": "input",
                "block_id": TITLE_BLOCK,
                "optional": True,  # later public updates keep the last title; private need none
                "label": _plain("Public title"),
                "hint": _plain(
                    "The incident's name on the status page, instead of its internal title. "
                    "Needed on the first public update."
                ),
                "element": title_input,
            }
        )
    blocks.append(
        {
            "type": "input",
            "block_id": BODY_BLOCK,
            "label": _plain("Message"),
            "element": {
                "type": "plain_text_input",
                "action_id": BODY_BLOCK,
                "multiline": True,
                "max_length": INPUT_LIMIT,
                "placeholder": _plain("What people should know, in plain words"),
            },
        }
    )
    blocks.append(_visibility(restricted))
    return {
        "type": "modal",
        "callback_id": STATUS_CALLBACK,
        "private_metadata": str(number),
        "title": _plain("Status update"),
        "submit": _plain("Post"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def _intro(ref: str, restricted: bool) -> str:
    if restricted:
        return f"*{ref}* is restricted: its updates stay internal (the incident's timeline)."
    return f"A status update on *{ref}*. Public ones show on the status page."


def _visibility(restricted: bool) -> Block:
    choices = [PRIVATE] if restricted else [PUBLIC, PRIVATE]
    options = [_option(value, _VISIBILITY[value]) for value in choices]
    return {
        "type": "input",
        "block_id": VISIBILITY_BLOCK,
        "label": _plain("Who sees it"),
        "element": {
            "type": "radio_buttons",
            "action_id": VISIBILITY_BLOCK,
            "options": options,
            "initial_option": options[0],
        },
    }


def field_errors(errors: dict[str, str]) -> dict[str, Any]:
    """Return Slack's answer that keeps the modal open with a message under each block."""
    return {"response_action": "errors", "errors": dict(errors)}
