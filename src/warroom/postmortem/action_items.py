"""A postmortem's action items: added, changed, and kept in step with their tracker issues."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import Invalid, NotFound
from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.organisation import check_person
from warroom.postmortem import ITEM_KINDS, ITEM_STATUSES
from warroom.postmortem.models import ActionItem, Postmortem
from warroom.postmortem.service import ensure

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

ITEM_FIELDS = ("kind", "title", "owner", "due_date", "status", "jira_key")

TRACKER_SOURCE = "jira"  # the timeline source of changes made by (or learnt from) Jira


def items(session: Session, postmortem: Postmortem) -> list[ActionItem]:
    """Return a postmortem's action items in the order they were added."""
    if postmortem.id is None:  # an unsaved draft has none
        return []
    stmt = (
        select(ActionItem).where(ActionItem.postmortem_id == postmortem.id).order_by(ActionItem.id)
    )
    return list(session.scalars(stmt))


def _check_item(values: dict[str, Any], config: WarroomConfig | None = None) -> None:
    """Raise Invalid for a kind, status, title or owner an action item cannot have."""
    owner = values.get("owner")
    if config is not None and owner is not None:
        check_person(config.people, owner, field="owner")
    if "kind" in values and values["kind"] not in ITEM_KINDS:
        raise Invalid(f"kind must be one of {', '.join(ITEM_KINDS)}", {"field": "kind"})
    if "status" in values and values["status"] not in ITEM_STATUSES:
        raise Invalid(f"status must be one of {', '.join(ITEM_STATUSES)}", {"field": "status"})
    if "title" in values:
        title = values["title"]
        if not isinstance(title, str) or not title.strip():
            raise Invalid("title must be non-empty text", {"field": "title"})
        values["title"] = title.strip()
    for name in ("kind", "status"):
        if name in values and values[name] is None:
            raise Invalid(f"{name} cannot be cleared", {"field": name})


def add_item(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    values: dict[str, Any],
    actor: str | None,
    source: str,
    now: datetime,
    create_jira: bool | None = None,
) -> ActionItem:
    """Add an action item to the incident's postmortem, with its timeline event.

    `create_jira` asks for a Jira issue (True), refuses one (False) or, None, follows
    `integrations.jira_issues.auto_create`; the issue itself is made later, by the outbox.
    """
    values = {key: values.get(key) for key in ITEM_FIELDS}
    values["status"] = values["status"] or "open"
    _check_item(values, config)
    jira = _wants_jira(config, create_jira, values.get("jira_key"))
    postmortem = ensure(session, config=config, incident=incident, now=now)
    item = ActionItem(postmortem_id=postmortem.id, created_at=now, updated_at=now, **values)
    session.add(item)
    session.flush()
    text = f"Action item added: {item.title}" + (" (Jira issue requested)" if jira else "")
    _record_item(session, incident, item, text, actor, source, now, jira=jira)
    return item


def _wants_jira(config: WarroomConfig, create_jira: bool | None, jira_key: str | None) -> bool:
    """Decide whether a new item gets a Jira issue; raise Invalid for a request that cannot be."""
    settings = config.integrations.jira_issues
    if create_jira and settings is None:
        raise Invalid(
            "create_jira needs Jira configured: add integrations.jira_issues to warroom.yaml "
            "(docs/integrations/jira.md)",
            {"field": "create_jira"},
        )
    if create_jira and jira_key:
        raise Invalid(
            "give jira_key (an existing issue) or create_jira (a new one), not both",
            {"field": "create_jira"},
        )
    if create_jira is not None:
        return create_jira
    return settings is not None and settings.auto_create and not jira_key


def get_item(session: Session, item_id: int) -> ActionItem:
    """Return the action item with this id, or raise NotFound."""
    item = session.get(ActionItem, item_id)
    if item is None:
        raise NotFound(f"no action item {item_id}")
    return item


def incident_of_item(session: Session, item_id: int) -> Incident:
    """Return (and lock) the incident an action item belongs to, or raise NotFound."""
    stmt = (
        select(Incident)
        .join(Postmortem, Postmortem.incident_id == Incident.id)
        .join(ActionItem, ActionItem.postmortem_id == Postmortem.id)
        .where(ActionItem.id == item_id)
        .with_for_update(of=Incident, key_share=True)  # as incidents.service.get
    )
    incident = session.scalars(stmt).one_or_none()
    if incident is None:
        raise NotFound(f"no action item {item_id}")
    return incident


def update_item(
    session: Session,
    *,
    item: ActionItem,
    incident: Incident,
    changes: dict[str, Any],
    actor: str | None,
    source: str,
    now: datetime,
    config: WarroomConfig | None = None,
) -> ActionItem:
    """Change some fields of an action item (only those given), with a timeline event.

    With `config`, a new owner must be a configured person (when people are configured).
    """
    unknown = set(changes) - set(ITEM_FIELDS)
    if unknown:
        raise Invalid(f"unknown fields: {', '.join(sorted(unknown))}", {"fields": sorted(unknown)})
    if not changes:
        raise Invalid(f"nothing to change; send one of {', '.join(ITEM_FIELDS)}")
    changes = dict(changes)
    _check_item(changes, config)
    changed = [name for name, value in changes.items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, changes[name])
    if changed:
        item.updated_at = now
        shown = ", ".join(f"{name}={_show(getattr(item, name))}" for name in changed)
        text = f"Action item {item.id} changed: {shown}"
        _record_item(session, incident, item, text, actor, source, now, fields=changed)
    return item


def link_issue(session: Session, *, item_id: int, issue: str, now: datetime) -> ActionItem | None:
    """Write the key of the Jira issue created for an item onto it, with a timeline event.

    A key set by hand in the meantime is kept: the event says so.
    """
    try:
        incident = incident_of_item(session, item_id)  # locked: one writer at a time
    except NotFound:
        return None  # the incident (and its items) was deleted since
    item = get_item(session, item_id)
    if item.jira_key == issue:
        return item
    if item.jira_key is not None:
        text = (
            f"Jira issue {issue} was created for action item {item.id}, which links "
            f"{item.jira_key} since: left as it is"
        )
        _record_item(session, incident, item, text, None, TRACKER_SOURCE, now)
        return item
    item.jira_key = issue
    item.updated_at = now
    text = f"Action item {item.id} is Jira issue {issue}"
    _record_item(session, incident, item, text, None, TRACKER_SOURCE, now, fields=["jira_key"])
    return item


def sync_status(
    session: Session, *, issue: str, status: str, actor: str | None, now: datetime
) -> list[tuple[int, int]]:
    """Give every item linked to Jira issue `issue` its status; return (item id, incident number).

    Items already in that status are left alone, so a change warroom sent to Jira and Jira
    reports back ends here.
    """
    if status not in ITEM_STATUSES:
        raise Invalid(f"status must be one of {', '.join(ITEM_STATUSES)}", {"field": "status"})
    ids = session.scalars(
        select(ActionItem.id).where(ActionItem.jira_key == issue).order_by(ActionItem.id)
    ).all()
    changed = []
    for item_id in ids:
        incident = incident_of_item(session, item_id)  # locked, then the item read fresh
        item = get_item(session, item_id)
        if item.status != status and item.jira_key == issue:
            changes = {"status": status}
            update_item(
                session, item=item, incident=incident, changes=changes, actor=actor,
                source=TRACKER_SOURCE, now=now,
            )  # fmt: skip
            changed.append((item.id, incident.number))
    return changed


def _show(value: Any) -> str:
    return "—" if value is None else str(value)


def _record_item(
    session: Session,
    incident: Incident,
    item: ActionItem,
    text: str,
    actor: str | None,
    source: str,
    now: datetime,
    *,
    fields: list[str] | None = None,
    jira: bool = False,
) -> None:
    """Write the `postmortem` timeline event of an action item change.

    The data carries the item as it now is, which fields changed and whether a Jira issue
    was asked for: the notification planner turns it into Jira requests.
    """
    due: date | None = item.due_date
    data: dict[str, Any] = {
        "action": "action_item",
        "item_id": item.id,
        "kind": item.kind,
        "title": item.title,
        "status": item.status,
        "owner": item.owner,
        "due_date": due.isoformat() if due else None,
        "jira_key": item.jira_key,
        "fields": fields or [],
    }
    if jira:
        data["jira"] = "create"
    timeline.record(
        session,
        incident=incident,
        kind="postmortem",
        text=text[:280],
        at=now,
        actor=actor,
        source=source,
        data=data,
    )
