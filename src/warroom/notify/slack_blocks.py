"""Block Kit builders: the incident card warroom posts to Slack, with its buttons."""

from __future__ import annotations

import re
from typing import Any

from warroom.core.text import show_bidi
from warroom.notify.ports import IncidentCard

ACKNOWLEDGE = "warroom_acknowledge"
RESOLVE = "warroom_resolve"
STATUS_UPDATE = "warroom_status_update"  # opens the status update form (slack_views.py)
ACTIONS = (ACKNOWLEDGE, STATUS_UPDATE, RESOLVE)
# Slack's documented limits: a header's text 150 characters, a section's 3000, a field's 2000.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
# Buttons make no sense once an incident is over; the card then only reports.
_FINISHED = ("resolved", "closed")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")

Block = dict[str, Any]


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup (&, <, >)."""
    # Bidi controls are shown too: Slack would let them reorder the message unseen.
    return show_bidi(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """Return a mrkdwn link; a `|` or `>` in the URL would end it early, so they are encoded."""
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(label)}>"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str) -> dict[str, str]:
    # plain_text has no markup to escape, but a bidi control would still reorder the header.
    return {"type": "plain_text", "text": show_bidi(text)}


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": _cut(f"*{label}*\n{value}", FIELD_LIMIT)}


def card_blocks(card: IncidentCard) -> list[Block]:
    """Return the blocks of an incident card: title, facts, links and the action buttons."""
    severity = (
        card.severity if not card.severity_name else f"{card.severity} ({card.severity_name})"
    )
    commander = card.commander_name or card.commander or "not assigned yet"
    fields = [
        _field("Severity", escape(severity)),
        _field("Status", escape(card.status)),
        _field("Commander", escape(commander)),
    ]
    if card.service:
        fields.append(_field("Service", escape(card.service)))
    blocks: list[Block] = [
        {"type": "header", "text": _plain(_cut(f"{card.ref}: {card.title}", HEADER_LIMIT))},
        {"type": "section", "fields": fields},
    ]
    if card.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(escape(card.summary), SECTION_LIMIT)},
            }
        )
    links = _links(card)
    if links:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)}]}
        )
    if card.status not in _FINISHED:
        blocks.append(action_block(card.number))
    return blocks


def _links(card: IncidentCard) -> list[str]:
    links = []
    if card.url:
        links.append(link(card.url, f"Open {card.ref} in warroom"))
    if card.conference_url:
        links.append(link(card.conference_url, "Join the conference call"))
    if card.chat_channel:
        # Slack links a channel written as <#C123>; a `#name` can only be shown as text.
        channel = card.chat_channel
        links.append(f"<#{channel}>" if _CHANNEL_ID.fullmatch(channel) else escape(channel))
    return links


def action_block(number: int) -> Block:
    """Return the actions block: Acknowledge, Status update, Resolve; each value is the number."""
    value = str(number)
    return {
        "type": "actions",
        "block_id": f"warroom_incident_{number}",
        "elements": [
            {
                "type": "button",
                "action_id": ACKNOWLEDGE,
                "text": _plain("Acknowledge"),
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": STATUS_UPDATE,
                "text": _plain("Status update"),
                "value": value,
            },
            {
                "type": "button",
                "action_id": RESOLVE,
                "text": _plain("Resolve"),
                "style": "danger",
                "value": value,
                # Resolving stops escalation and archives the runbook: ask before doing it.
                "confirm": {
                    "title": _plain(f"Resolve INC-{number}?"),
                    "text": _plain("Verification is done and the impact is over."),
                    "confirm": _plain("Resolve"),
                    "deny": _plain("Cancel"),
                },
            },
        ],
    }
