"""Personal notification rules at work: each person a step pages runs their own steps.

An escalation step that pages a person writes a page run (escalation/models.PageRun) with a
snapshot of that person's rules ("push now, SMS after 2 minutes, call after 5"). Steps due
at once are sent in the same transaction; the engine advances the rest from the rows. An
acknowledgement anywhere stops every run of the incident; a method that fails moves its
person to their next rule at once.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from warroom.escalation import contacts, links, rows
from warroom.escalation.models import ACTIVE, PageRun
from warroom.notify.cards import codename
from warroom.notify.messages import (
    ChatPage,
    EmailPage,
    PersonalPage,
    PushPage,
    SmsPage,
    VoicePage,
)
from warroom.notify.models import Notification
from warroom.notify.outbox import Message
from warroom.notify.ports import IncidentCard

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

LINK_LIFETIME = timedelta(hours=24)  # at most; the escalation's end ends it sooner
CHUNK = 2500
TITLE_IN_SMS = 60  # characters: the whole text stays near one SMS segment
# A phone or push page is tried this often (backoff between) before the person's next rule
# runs at once: a minute of retries while someone sleeps helps nobody.
PAGE_ATTEMPTS = {"sms": 3, "voice": 3, "push": 3}


def round_of(loop: int, step: int) -> str:
    """Return how a page names the escalation round and step that sent it: `0:1`."""
    return f"{loop}:{step}"


@dataclass
class Paging:
    """What a tick needs to page people: configuration, adapters in force, lazy lookups."""

    session: Session
    config: WarroomConfig
    channels: Collection[str]
    now: datetime
    _directory: contacts.Directory | None = field(default=None, init=False)
    _key: bytes | None = field(default=None, init=False)

    @property
    def directory(self) -> contacts.Directory:
        """Every person's methods and rules, read once per tick."""
        if self._directory is None:
            self._directory = contacts.Directory(self.session, self.config)
        return self._directory

    @property
    def key(self) -> bytes:
        """The acknowledge links' key, read once per tick."""
        if self._key is None:
            self._key = links.signing_key(self.session)
        return self._key

    def base_url(self) -> str:
        """Return where people open warroom ('' when not configured: relative links)."""
        return (self.config.notifications.base_url or "").rstrip("/")


@dataclass
class Started:
    """What paging some people for one step produced."""

    messages: list[Message] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)  # page_runs rows to insert
    paged: list[str] = field(default_factory=list)
    unreached: dict[str, str] = field(default_factory=dict)  # person -> why


def start(
    paging: Paging,
    *,
    incident: Any,
    people: list[str],
    loop: int,
    step: int,
    card: IncidentCard,
    label: str,
    due: datetime | None,
) -> Started:
    """Plan each person's rules; return the pages due now and the runs to write."""
    out = Started()
    anchor = due or paging.now
    for person in people:
        if paging.config.person(person) is None:
            out.unreached[person] = "not a person under people: in warroom.yaml"
            continue
        steps, _ = paging.directory.rules(person, incident.severity)
        methods = paging.directory.methods(person)
        planned = contacts.plan(steps, methods, paging.channels)
        if not planned:
            out.unreached[person] = contacts.why_unreached(steps, methods, paging.channels)
            continue
        run = {
            "incident_id": incident.id,
            "person": person,
            "loop": loop,
            "step": step,
            "rules": planned,
            "position": 0,
            "state": ACTIVE,
            "started_at": anchor,
            "next_at": anchor,
            "updated_at": paging.now,
            "reason": None,
            "reply_code": f"{secrets.randbelow(9000) + 1000}",
            "link_used_at": None,
        }
        out.messages += advance(paging, run, incident, card, label)
        out.runs.append(run)
        out.paged.append(person)
    return out


def advance(
    paging: Paging,
    run: dict[str, Any],
    incident: Any,
    card: IncidentCard,
    label: str,
    *,
    due: bool = False,
) -> list[Message]:
    """Send every rule of the run that is due by now; point it at the next one.

    `due`: the run's row fell due, so its next rule goes now even if planned for later
    (the method before it failed and brought it forward).
    """
    messages: list[Message] = []
    planned = run["rules"]
    started: datetime = run["started_at"]
    while run["position"] < len(planned):
        after = contacts.rule_after(planned, run["position"])
        assert after is not None
        if started + after > paging.now and not due:
            break
        due = False
        messages += _pages(paging, run, incident, card, label)
        run["position"] += 1
    following = contacts.rule_after(planned, run["position"])
    if following is None:
        run["state"], run["next_at"], run["reason"] = "done", None, "every rule sent"
    else:
        run["next_at"] = started + following
    run["updated_at"] = paging.now
    return messages


def _pages(
    paging: Paging, run: dict[str, Any], incident: Any, card: IncidentCard, label: str
) -> list[Message]:
    """Return one page per method of the run's current rule."""
    position, person = run["position"], run["person"]
    rule = run["rules"][position]
    base = f"inc{incident.number}:page:{run['loop']}:{run['step']}:{person}"
    if position:  # the first rule keeps the keys pages had before rules existed
        base += f":r{position}"
    token = links.make(
        paging.key,
        incident_id=incident.id,
        person=person,
        loop=run["loop"],
        step=run["step"],
        expires=run["started_at"] + LINK_LIFETIME,
    )
    root = paging.base_url()
    ack_url = f"{root}/ack/{token}"
    # SMS, voice and push leave warroom through third parties: a restricted incident goes
    # under its codename there, as it does to executives and webhooks.
    outside = codename(card) if incident.visibility == "restricted" else card
    text = f"You are paged for INC-{incident.number} ({incident.severity}): {card.title} — {label}"
    # When the rule was meant to run (lateness counts from it); brought forward, it is now.
    due = min(run["started_at"] + timedelta(seconds=int(rule["after"])), paging.now)
    common: dict[str, Any] = {
        "person": person,
        "round": round_of(run["loop"], run["step"]),
        "rule": position,
        "ack_url": ack_url,
    }
    out = []
    for method in rule["methods"]:
        kind, address, name = method["kind"], method["address"], method["name"]
        page: PersonalPage
        if kind == "chat":
            page = ChatPage(card=card, text=text, address=address, **common)
        elif kind == "email":
            page = EmailPage(card=card, text=text, address=address, **common)
        elif kind == "sms":
            page = SmsPage(
                card=outside,
                text=sms_text(outside, run["reply_code"], ack_url),
                address=address,
                reply_code=run["reply_code"],
                **common,
            )
        elif kind == "voice":
            page = VoicePage(
                card=outside,
                text=voice_text(outside),
                address=address,
                gather_url=f"{root}/api/v1/intake/twilio/voice?link={token}",
                **common,
            )
        elif kind == "push":
            page = PushPage(card=outside, text=push_text(outside, label), address=address, **common)
        else:
            continue
        attempts = PAGE_ATTEMPTS.get(kind)
        out.append(Message(f"{base}:{name}", f"person:{person}", page, incident.id, due, attempts))
    return out


def sms_text(card: IncidentCard, reply_code: str, ack_url: str) -> str:
    """Return a page as a text message: what, how bad, and how to acknowledge."""
    title = card.title if len(card.title) <= TITLE_IN_SMS else card.title[: TITLE_IN_SMS - 1] + "…"
    return (
        f'{card.ref} {card.severity}: {title}. Reply "ack {card.number}" or "{reply_code}" '
        f"to acknowledge, or open {ack_url}"
    )


def voice_text(card: IncidentCard) -> str:
    """Return what a call says before it asks for a key press."""
    return (
        f"This is warroom. You are paged for incident {card.number}, "
        f"{card.severity_name} severity: {card.title}."
    )


def push_text(card: IncidentCard, label: str) -> str:
    """Return the body of a push notification."""
    drill = "DRILL — " if card.drill else ""
    return f"{drill}{card.severity} ({card.severity_name}) — {label}"


def tick(paging: Paging, *, limit: int = CHUNK) -> tuple[list[Message], bool]:
    """Advance every page run that is due (up to `limit`); return the pages and if full."""
    session, now = paging.session, paging.now
    statement = (
        select(PageRun)
        .where(PageRun.state == ACTIVE, PageRun.next_at <= now)
        .order_by(PageRun.next_at)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)  # each rule runs once
    runs = list(session.scalars(statement))
    if not runs:
        return [], False
    incidents = rows.incidents(session, sorted({r.incident_id for r in runs}))
    from warroom.notify.cards import card_of

    messages: list[Message] = []
    for row in runs:
        incident = incidents.get(row.incident_id)
        if incident is None:
            continue
        if incident.acknowledged_at is not None or incident.status != "detected":
            reason = "acknowledged" if incident.acknowledged_at is not None else incident.status
            row.state, row.next_at, row.reason, row.updated_at = "stopped", None, reason, now
            continue
        run = _as_dict(row)
        card = card_of(incident, paging.config, paging.config.notifications.base_url)
        label = f"rule {run['position'] + 1} of {len(run['rules'])}"
        messages += advance(paging, run, incident, card, label, due=True)
        row.position, row.state, row.next_at = run["position"], run["state"], run["next_at"]
        row.reason, row.updated_at = run["reason"], run["updated_at"]
    return messages, len(runs) == limit


def _as_dict(row: PageRun) -> dict[str, Any]:
    return {
        "incident_id": row.incident_id,
        "person": row.person,
        "loop": row.loop,
        "step": row.step,
        "rules": row.rules,
        "position": row.position,
        "state": row.state,
        "started_at": row.started_at,
        "next_at": row.next_at,
        "reason": row.reason,
        "reply_code": row.reply_code,
        "updated_at": row.updated_at,
    }


def next_due(session: Session) -> datetime | None:
    """Return when the next rule of any run falls due."""
    from sqlalchemy import func

    from warroom.core.clock import ensure_utc

    value = session.scalar(select(func.min(PageRun.next_at)).where(PageRun.state == ACTIVE))
    return ensure_utc(value) if value is not None else None


def stop(session: Session, *, incident_id: int, now: datetime, reason: str) -> None:
    """Stop every remaining rule of the incident's runs (it was acknowledged, or moved on)."""
    session.execute(
        update(PageRun)
        .where(PageRun.incident_id == incident_id, PageRun.state == ACTIVE)
        .values(state="stopped", next_at=None, reason=reason[:200], updated_at=now)
    )


def move_on(
    session: Session, *, incident_id: int, person: str, round_: str, rule: int, now: datetime
) -> bool:
    """Bring the person's next rule forward to now: the method of rule `rule` failed.

    Only if that rule is still the last one sent (a later failure of an old rule changes
    nothing). Return True when the run moved.
    """
    loop, step = (int(part) for part in round_.split(":"))
    result = session.execute(
        update(PageRun)
        .where(
            PageRun.incident_id == incident_id,
            PageRun.person == person,
            PageRun.loop == loop,
            PageRun.step == step,
            PageRun.state == ACTIVE,
            PageRun.position == rule + 1,
            PageRun.next_at > now,
        )
        .values(next_at=now, updated_at=now)
    )
    moved = bool(getattr(result, "rowcount", 0))
    if moved:
        session.info["wake_engine"] = True
    return moved


def page_failed(session: Session, row: Notification, now: datetime) -> None:
    """After a page died (the provider refused it, or retries ran out): the next rule, now."""
    payload = row.payload or {}
    if row.action != "page" or row.incident_id is None or payload.get("round") is None:
        return
    move_on(
        session,
        incident_id=row.incident_id,
        person=str(payload.get("person")),
        round_=str(payload["round"]),
        rule=int(payload.get("rule") or 0),
        now=now,
    )


@dataclass(frozen=True)
class Upcoming:
    """A person's next rule, for the incident room: who, by what, when, which of how many."""

    person: str
    kinds: list[str]
    at: datetime
    rule: int  # 1-based
    rules: int


def upcoming(session: Session, *, incident_id: int) -> list[Upcoming]:
    """Return the next rule of each active run of the incident, soonest first."""
    from warroom.core.clock import ensure_utc

    rows = session.scalars(
        select(PageRun)
        .where(PageRun.incident_id == incident_id, PageRun.state == ACTIVE)
        .order_by(PageRun.next_at, PageRun.id)
    )
    found = []
    for run in rows:
        if run.next_at is None or run.position >= len(run.rules):
            continue
        kinds = list(dict.fromkeys(m["kind"] for m in run.rules[run.position]["methods"]))
        at = ensure_utc(run.next_at)
        found.append(Upcoming(run.person, kinds, at, run.position + 1, len(run.rules)))
    return found
