"""Postmortems: create one when an incident resolves, validate and save edits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.core.errors import Conflict, Invalid
from warroom.incidents import timeline
from warroom.incidents.models import Incident
from warroom.postmortem import STATUSES, WHYS_MAX
from warroom.postmortem.config import CATEGORY_MAX, required_for
from warroom.postmortem.models import ActionItem, Postmortem

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

DONE_STATUSES = ("resolved", "closed")
TEXT_MAX = 2_000  # one why, cause or lesson
LIST_MAX = 50


def add_business_days(start: datetime, days: int) -> datetime:
    """Return `start` moved forward by `days` working days (Monday to Friday)."""
    when, left = start, days
    while left > 0:
        when += timedelta(days=1)
        if when.weekday() < 5:
            left -= 1
    return when


class StaleVersion(Conflict):
    """A save made against an older version than the one stored: someone saved in between."""

    def __init__(self, ref: str, *, given: int, current: int, by: str | None) -> None:
        who = f" by {by}" if by else ""
        super().__init__(
            f"the postmortem of {ref} was saved{who} since you loaded it (you had version "
            f"{given}, it is now {current}); load it again, merge, and save",
            {"field": "version", "given_version": given, "current_version": current},
        )
        self.current = current


def check_version(incident: Incident, postmortem: Postmortem | None, expected: int | None) -> None:
    """Raise StaleVersion unless `expected` is the stored version (None: no check)."""
    if expected is None:
        return
    current = postmortem.version if postmortem is not None else 0
    if expected != current:
        raise StaleVersion(
            incident.ref,
            given=expected,
            current=current,
            by=postmortem.updated_by if postmortem is not None else None,
        )


def check_done(incident: Incident) -> None:
    """Raise Conflict unless the incident is resolved or closed."""
    if incident.status not in DONE_STATUSES:
        raise Conflict(
            f"{incident.ref} is {incident.status}: its postmortem starts when it is resolved",
            {"status": incident.status},
        )


def find(session: Session, incident: Incident) -> Postmortem | None:
    """Return the incident's postmortem, if it has one."""
    return session.scalars(
        select(Postmortem).where(Postmortem.incident_id == incident.id)
    ).one_or_none()


def is_required(config: WarroomConfig, incident: Incident) -> bool:
    """Tell whether the incident owes a postmortem: by the highest severity it ever had.

    A false alarm owes none; an admin's waiver is kept on the postmortem (`gate`).
    """
    if incident.outcome == "false_alarm":
        return False
    return required_for(config, incident.peak_severity)


def draft(*, config: WarroomConfig, incident: Incident, now: datetime) -> Postmortem:
    """Return a new, unsaved postmortem for the incident: what `ensure` would create."""
    settings = config.postmortem
    required = is_required(config, incident)
    resolved_at = incident.resolved_at or now
    due_at = add_business_days(resolved_at, settings.due_business_days) if required else None
    return Postmortem(
        incident_id=incident.id,
        status="draft",
        required=required,
        due_at=due_at,
        created_at=now,
        updated_at=now,
        version=0,
        fishbone={name: [] for name in settings.fishbone_categories},
        summary="",
        impact="",
        root_cause="",
        five_whys=[],
        contributing_factors=[],
        went_well=[],
        went_poorly=[],
        got_lucky=[],
    )


def ensure(
    session: Session, *, config: WarroomConfig, incident: Incident, now: datetime
) -> Postmortem:
    """Return the incident's postmortem, creating it the first time.

    The caller holds the incident's row lock, so two callers cannot both create it.
    """
    check_done(incident)
    found = find(session, incident)
    if found is not None:
        return found
    postmortem = draft(config=config, incident=incident, now=now)
    session.add(postmortem)
    # No timeline event: the resolve just wrote one, and the timeline reads better without a
    # second line saying what the runbook already promises.
    session.flush()
    return postmortem


def clean_whys(value: list[Any], *, required: bool = True) -> list[dict[str, str]]:
    """Return the 5 Whys chain checked: up to 10 {question, answer} pairs, none blank.

    A draft may have none yet; a done postmortem (`required`) needs at least one.
    """
    if not value:
        if not required:
            return []
        raise Invalid(
            "five_whys needs at least one why before the postmortem is done",
            {"field": "five_whys"},
        )
    if len(value) > WHYS_MAX:
        raise Invalid(
            f"five_whys has {len(value)} entries; at most {WHYS_MAX}", {"field": "five_whys"}
        )
    chain = []
    for index, entry in enumerate(value):
        where = {"field": f"five_whys.{index}"}
        if not isinstance(entry, dict) or set(entry) != {"question", "answer"}:
            raise Invalid(
                f"five_whys[{index}] must be an object with exactly 'question' and 'answer'",
                where,
            )
        pair = {}
        for key in ("question", "answer"):
            text = entry[key]
            if not isinstance(text, str) or not text.strip():
                raise Invalid(f"five_whys[{index}].{key} must be non-empty text", where)
            pair[key] = _text(text, f"five_whys[{index}].{key}")
        chain.append(pair)
    return chain


def _text(value: str, name: str) -> str:
    """Return `value` stripped, or raise Invalid if it is too long or holds NUL."""
    value = value.strip()
    if len(value) > TEXT_MAX:
        raise Invalid(f"{name} is longer than {TEXT_MAX} characters", {"field": name})
    if "\x00" in value:
        raise Invalid(f"{name} must not contain NUL characters", {"field": name})
    return value


def clean_strings(name: str, value: list[Any]) -> list[str]:
    """Return a list of non-empty strings, or raise Invalid naming the bad entry."""
    if len(value) > LIST_MAX:
        raise Invalid(f"{name} has more than {LIST_MAX} entries", {"field": name})
    cleaned = []
    for index, entry in enumerate(value):
        if not isinstance(entry, str) or not entry.strip():
            raise Invalid(f"{name}[{index}] must be non-empty text", {"field": f"{name}.{index}"})
        cleaned.append(_text(entry, f"{name}[{index}]"))
    return cleaned


def clean_fishbone(value: dict[str, Any], categories: list[str]) -> dict[str, list[str]]:
    """Return category -> causes: the configured categories first, then custom ones."""
    given: dict[str, list[str]] = {}
    configured = {name.casefold(): name for name in categories}
    for raw, causes in value.items():
        name = raw.strip()
        if not name or len(name) > CATEGORY_MAX or "\x00" in name:
            raise Invalid(
                f"fishbone category {raw!r} must be 1 to {CATEGORY_MAX} characters",
                {"field": "fishbone"},
            )
        name = configured.get(name.casefold(), name)  # "people" is the People bone
        if name.casefold() in {g.casefold() for g in given}:
            raise Invalid(f"fishbone category {name!r} is given twice", {"field": "fishbone"})
        if not isinstance(causes, list):
            raise Invalid(
                f"fishbone[{name!r}] must be a list of causes", {"field": f"fishbone.{name}"}
            )
        given[name] = clean_strings(f"fishbone[{name!r}]", causes)
    if len(given) > 2 * len(categories) + 10:
        raise Invalid("fishbone has too many categories", {"field": "fishbone"})
    ordered = {name: given.pop(name, []) for name in categories}
    return ordered | given


def update(
    session: Session,
    *,
    config: WarroomConfig,
    incident: Incident,
    values: dict[str, Any],
    actor: str | None,
    source: str,
    now: datetime,
    expected_version: int | None = None,
) -> Postmortem:
    """Replace the editable fields after checking all of them (nothing is saved on error).

    With `expected_version`, the save happens only if the stored postmortem is still at that
    version (StaleVersion otherwise); the caller holds the incident's row lock, so the check
    and the write cannot interleave with another save.
    """
    check_done(incident)
    check_version(incident, find(session, incident), expected_version)
    status = values.get("status", "draft")
    if status not in STATUSES:
        raise Invalid(f"unknown status {status!r}; use {', '.join(STATUSES)}", {"field": "status"})
    whys = list(values.get("five_whys") or [])
    cleaned: dict[str, Any] = {"five_whys": clean_whys(whys, required=status == "done")}
    cleaned["fishbone"] = clean_fishbone(
        dict(values.get("fishbone") or {}), config.postmortem.fishbone_categories
    )
    for name in ("contributing_factors", "went_well", "went_poorly", "got_lucky"):
        cleaned[name] = clean_strings(name, list(values.get(name) or []))
    for name in ("summary", "impact", "root_cause"):
        text = str(values.get(name) or "").strip()
        if "\x00" in text:
            raise Invalid(f"{name} must not contain NUL characters", {"field": name})
        cleaned[name] = text
    if status == "done":
        missing = [name for name in ("summary", "root_cause") if not cleaned[name]]
        if missing:
            raise Invalid(
                f"a postmortem is done only with its {' and '.join(missing)} written; "
                "save it as draft or in_review until then",
                {"field": missing[0], "missing": missing},
            )
    postmortem = ensure(session, config=config, incident=incident, now=now)
    previous = postmortem.status
    for name, value in cleaned.items():
        setattr(postmortem, name, value)
    postmortem.status = status
    postmortem.updated_at = now
    postmortem.updated_by = actor
    postmortem.version = (postmortem.version or 0) + 1
    if status != previous:
        timeline.record(
            session,
            incident=incident,
            kind="postmortem",
            text=f"Postmortem is now {status.replace('_', ' ')} (was {previous.replace('_', ' ')})",
            at=now,
            actor=actor,
            source=source,
            data={"action": "status", "from": previous, "to": status},
        )
    return postmortem


@dataclass(frozen=True)
class Lesson:
    """What a postmortem taught, for a later incident's list of related ones."""

    root_cause: str
    action_items: list[tuple[str, str]]  # (title, status)


def lessons(session: Session, *, incident_ids: list[int]) -> dict[int, Lesson]:
    """Return the root cause and action items of these incidents' postmortems, by incident id."""
    if not incident_ids:
        return {}
    found = session.execute(
        select(Postmortem.id, Postmortem.incident_id, Postmortem.root_cause).where(
            Postmortem.incident_id.in_(incident_ids)
        )
    ).all()
    items: dict[int, list[tuple[str, str]]] = {row.id: [] for row in found}
    if items:
        stmt = (
            select(ActionItem.postmortem_id, ActionItem.title, ActionItem.status)
            .where(ActionItem.postmortem_id.in_(list(items)))
            .order_by(ActionItem.id)
        )
        for item in session.execute(stmt):
            items[item.postmortem_id].append((item.title, item.status))
    return {row.incident_id: Lesson(row.root_cause, items[row.id]) for row in found}
