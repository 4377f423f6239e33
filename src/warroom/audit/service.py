"""Write audit entries with the transaction they record; read them back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select, update
from sqlalchemy.orm import Session

from warroom.audit.chain import canonical, entry_hash, hashed_fields
from warroom.audit.context import client_address, deferred
from warroom.audit.models import AuditEntry, AuditHead
from warroom.storage.db import LISTENER_WORK_PREFIX, Database

PENDING = f"{LISTENER_WORK_PREFIX}audit"  # entries waiting for their transaction's commit
TAKEN = "audit.taken_from_request"  # a request's waiting entries this transaction writes
OUTCOMES = ("ok", "denied", "failed")


@dataclass(frozen=True)
class Pending:
    """An entry recorded in a transaction, chained when that transaction commits."""

    at: datetime
    actor: str
    client: str | None
    action: str
    target: str | None
    outcome: str
    details: dict[str, Any]


def entry(
    action: str,
    *,
    actor: str,
    at: datetime,
    target: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    client: str | None = None,
) -> Pending:
    """Return an entry to record, checked: a known outcome, details the chain can hash."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {', '.join(OUTCOMES)}: {outcome!r}")
    details = dict(details or {})
    canonical(details)  # refuses floats and unsafe integers now, not at commit
    return Pending(
        at=at,
        actor=actor,
        client=client if client is not None else client_address.get(),
        action=action,
        target=target,
        outcome=outcome,
        details=details,
    )


def record(session: Session, action: str, **fields: Any) -> None:
    """Add an entry to `session`'s transaction: it is written, chained, if and when it commits.

    `fields`: actor, at, and optionally target, outcome (ok, denied, failed), details, client.
    """
    session.info.setdefault(PENDING, []).append(entry(action, **fields))


def record_now(db: Database, action: str, **fields: Any) -> None:
    """Write one entry in a transaction of its own (a denial, a read: nothing else commits)."""
    with db.transaction() as session:
        record(session, action, **fields)


def record_with_request(db: Database, action: str, **fields: Any) -> None:
    """Record an entry that commits with the request's next write, or before it answers.

    For what a request notes before it changes anything (its access to a restricted
    incident): a change then carries the entry in its own transaction, and a read writes it
    once, as the response starts (api/audit_context.py). Outside a request: written now.
    """
    waiting = deferred.get()
    if waiting is None:
        record_now(db, action, **fields)
    else:
        waiting.append(entry(action, **fields))


def flush_request(db: Database) -> None:
    """Write the entries the request has left waiting (none: nothing to do)."""
    waiting = deferred.get()
    if waiting:
        with db.transaction():
            pass  # `seal` takes the waiting entries at this commit


def seal(session: Session) -> None:
    """Chain and insert the transaction's pending entries (the last before-commit listener).

    The head row is locked last, after everything else the transaction writes is flushed:
    a transaction waiting for the head holds no lock its holder could need, so appends from
    several instances queue on one row and never deadlock, and the chain stays one line.
    """
    pending: list[Pending] = session.info.pop(PENDING, None) or []
    waiting = deferred.get()
    if waiting and not session.in_nested_transaction():
        # The request's waiting entries go first (they were noted first); if this commit
        # fails, `_give_back` returns them to the request for the middleware to write.
        session.info[TAKEN] = taken = list(waiting)
        waiting.clear()
        pending = [*taken, *pending]
    if not pending:
        return
    session.flush()
    connection = session.connection()
    locked = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    seq, prev = connection.execute(locked).one()
    rows = []
    for one in pending:
        seq += 1
        fields = hashed_fields(
            seq=seq,
            at=one.at,
            actor=one.actor,
            client=one.client,
            action=one.action,
            target=one.target,
            outcome=one.outcome,
            details=one.details,
        )
        digest = entry_hash(prev, fields)
        rows.append(dict(fields, at=one.at, prev_hash=prev, hash=digest))
        prev = digest
    connection.execute(insert(AuditEntry), rows)
    connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


def _committed(session: Session) -> None:
    session.info.pop(TAKEN, None)


def _give_back(session: Session, _transaction: object) -> None:
    taken = session.info.pop(TAKEN, None)
    waiting = deferred.get()
    if taken and waiting is not None:
        waiting[:0] = taken


def install(db: Database) -> None:
    """Seal audit entries in every write transaction of `db`; install after other listeners."""
    if seal not in db.before_commit:
        db.before_commit.append(seal)
        db.listen_writes("after_commit", _committed)
        db.listen_writes("after_soft_rollback", _give_back)


def head(connection: Connection | Session) -> tuple[int, str]:
    """Return the chain's newest position and hash (0 and the genesis hash when empty)."""
    row = connection.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return int(row.seq), str(row.hash)


def query(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> Select[AuditEntry]:
    """Return the newest entries first that match every filter given.

    `action` ending in `.` or `*` matches a family (`signin.` is every sign-in entry).
    """
    statement = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.at < until)
    if actor is not None:
        statement = statement.where(AuditEntry.actor == actor)
    if action is not None:
        if action.endswith((".", "*")):
            family = action.rstrip("*")
            statement = statement.where(AuditEntry.action.startswith(family, autoescape=True))
        else:
            statement = statement.where(AuditEntry.action == action)
    if target is not None:
        statement = statement.where(AuditEntry.target == target)
    if before is not None:
        statement = statement.where(AuditEntry.seq < before)
    return statement


def entries(session: Session, **filters: Any) -> list[AuditEntry]:
    """Return the entries matching `filters` (see `query`), newest first."""
    return list(session.scalars(query(**filters)))


def read_page(
    db: Database,
    *,
    reader: str,
    at: datetime,
    limit: int,
    **filters: Any,
) -> tuple[list[AuditEntry], tuple[int, str], bool]:
    """Return entries matching `filters` (newest first), the head, and whether more are older.

    The reading is audited itself, in the same transaction: who looked at the log, for what.
    """
    with db.transaction() as session:
        rows = list(session.scalars(query(limit=limit + 1, **filters)))
        newest = head(session)
        shown = {key: value for key, value in filters.items() if value is not None}
        record(
            session,
            "audit.read",
            actor=reader,
            at=at,
            details={
                key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in shown.items()
            },
        )
    return rows[:limit], newest, len(rows) > limit
