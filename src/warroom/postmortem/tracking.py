"""Postmortem action items as Jira issues: the outbox rows their changes call for.

An item gets an issue when the responder asks (`create_jira`) or `jira_issues.auto_create` is
on. From then on, changes of its title, due date, owner and status are queued as updates to
the same destination as the create, so the outbox sends them in order behind it. Changes that
came from Jira (source `jira`) are not sent back.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.incidents import timeline
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify import outbox
from warroom.notify.config import RetryConfig
from warroom.notify.messages import IssueCreate, IssueUpdate, Payload
from warroom.notify.models import Notification
from warroom.notify.outbox import UNFINISHED, Message
from warroom.postmortem import action_items
from warroom.postmortem.action_items import TRACKER_SOURCE as SOURCE
from warroom.postmortem.models import Postmortem

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

CHANNEL = IssueCreate.channel
# Action-item field -> the tracker's name for it.
SYNCED = {"title": "summary", "due_date": "due_date", "owner": "owner", "status": "status"}


def issue_sent(
    session: Session, sent: Payload, issue: str | None, now: datetime, config: WarroomConfig
) -> None:
    """After a send: keep the key of an action item's newly created issue (a Sender hook)."""
    if isinstance(sent, IssueCreate) and issue:
        retry = config.notifications.retry
        record_issue(session, now, item_id=sent.item_id, issue=issue, sent=sent, retry=retry)


def destination(item_id: int) -> str:
    """Return the outbox destination of an item's rows (one queue per item, sent in order)."""
    return f"action-item:{item_id}"


def create_key(item_id: int) -> str:
    """Return the idempotency key of an item's create: one issue per item, ever."""
    return f"jira:item{item_id}:create"


def plan(
    session: Session,
    incident: Incident,
    event: TimelineEvent,
    *,
    config: WarroomConfig,
    url: str | None,
) -> list[Message]:
    """Return the Jira rows an action-item timeline event calls for (none for other events)."""
    data = event.data or {}
    item_id = data.get("item_id")
    if (
        config.integrations.jira_issues is None
        or data.get("action") != "action_item"
        or event.source == SOURCE
        or not isinstance(item_id, int)
    ):
        return []
    where = destination(item_id)
    if data.get("jira") == "create":
        create = IssueCreate(
            item_id=item_id,
            summary=data.get("title"),
            description=describe(incident, data, url),
            due_date=data.get("due_date"),
            owner=data.get("owner"),
            status=data.get("status", "open"),
        )
        return [Message(create_key(item_id), where, create, incident.id)]
    changes = {SYNCED[name]: data.get(name) for name in data.get("fields") or [] if name in SYNCED}
    if not changes:
        return []
    issue = data.get("jira_key")
    if issue is None and not _create_unfinished(session, item_id):
        return []  # never asked for, or its creation died: nothing to keep in step
    key = f"inc{incident.number}:ev{event.id}:jira"
    update = IssueUpdate(item_id=item_id, issue=issue, changes=changes)
    return [Message(key, where, update, incident.id)]


def describe(incident: Incident, data: dict[str, Any], url: str | None) -> str:
    """Return the new issue's description: where the item comes from, and that it syncs."""
    # A restricted incident's title stays in warroom; the item's own title is what people see.
    about = "(restricted)" if incident.visibility == "restricted" else incident.title
    lines = [f"Action item from the postmortem of {incident.ref}: {about}", ""]
    lines.append(f"Kind: {str(data.get('kind') or '').replace('_', '-')}")
    if data.get("owner"):
        lines.append(f"Owner: {data['owner']}")
    if data.get("due_date"):
        lines.append(f"Due: {data['due_date']}")
    if url:
        lines.append(f"Incident: {url}")
    lines += [
        "",
        "Created by warroom. Changes to the action item's title, owner, due date and status "
        "are copied here; moving this issue to a done status marks the item done.",
    ]
    return "\n".join(lines)


def _create_unfinished(session: Session, item_id: int) -> bool:
    """Tell whether the item's create is queued and not yet sent (nor given up)."""
    status = session.scalar(
        select(Notification.status).where(Notification.key == create_key(item_id))
    )
    return status in UNFINISHED


def record_issue(
    session: Session,
    now: datetime,
    *,
    item_id: int,
    issue: str,
    sent: IssueCreate,
    retry: RetryConfig,
) -> None:
    """Keep a created issue's key: on its action item, and in the updates queued behind it.

    `sent` is the create's message. If the item changed in ways no queued update carries
    (changes made while the create was dead, before an admin resent it), one more update
    brings the issue in step.
    """
    item = action_items.link_issue(session, item_id=item_id, issue=issue, now=now)
    queued = list(
        session.scalars(
            select(Notification)
            .where(
                Notification.channel == CHANNEL,
                Notification.destination == destination(item_id),
                Notification.action == "update",
                Notification.status.in_(("pending", "failed")),
            )
            .order_by(Notification.id)
        )
    )
    state = sent.model_dump(mode="json", include=set(SYNCED.values()))
    for row in queued:
        # Rows stay JSON here: one queued by an older version must not fail this transaction.
        if not (row.payload or {}).get("issue"):
            row.payload = {**row.payload, "issue": issue}  # a new dict: JSON columns see it
        state.update(row.payload.get("changes") or {})
    timeline.take_new_events(session)  # a fact about sending: nothing to plan
    if item is None or item.jira_key != issue:
        return
    due = item.due_date.isoformat() if item.due_date else None
    now_is = {"summary": item.title, "due_date": due, "owner": item.owner, "status": item.status}
    behind = {name: value for name, value in now_is.items() if state.get(name) != value}
    if behind:
        incident_id = session.scalar(
            select(Postmortem.incident_id).where(Postmortem.id == item.postmortem_id)
        )
        update = IssueUpdate(item_id=item_id, issue=issue, changes=behind)
        catch_up = Message(f"{create_key(item_id)}:sync", destination(item_id), update, incident_id)
        outbox.enqueue(session, [catch_up], now=now, retry=retry)
