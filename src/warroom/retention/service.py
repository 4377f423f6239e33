"""Prune in small batches: pick ids without holding a write lock, delete them by id.

A first run on a years-old database may find millions of rows. Each batch is its own short
transaction (SQLite's one writer waits for a batch, never for the lot), and the ids are
picked in a read transaction, so the write lock covers only the delete. Engines sharing a
PostgreSQL database may prune at once: each locks the rows it deletes (SKIP LOCKED), and a
row already gone is simply not deleted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from warroom.config.retention import RetentionConfig
from warroom.retention.kinds import Kind, kinds
from warroom.storage.db import Database

BATCH = 1_000  # rows per statement
ENGINE = "system:retention"  # the audit log's actor when the engine prunes


@dataclass(frozen=True)
class Pruned:
    """What one kind's pruning did (or, on a dry run, would do)."""

    kind: str
    older_than: timedelta
    rows: int
    more: bool = False  # rows left (the batch limit, or a batch held elsewhere): again soon


def prune(
    db: Database,
    *,
    retention: RetentionConfig,
    now: datetime,
    dry_run: bool = False,
    batch: int = BATCH,
    max_batches: int | None = None,
    actor: str = ENGINE,
) -> list[Pruned]:
    """Delete (or count, on a dry run) every kind's rows past their retention at `now`.

    `max_batches` bounds the batches of each kind in one call (the engine's round must not
    wait for a whole backlog); None deletes everything due. `actor` is who the audit log
    names for what a batch records (sessions that ended unrecorded: `session.pruned`).
    """
    done: list[Pruned] = []
    for kind in kinds(retention):
        cutoff = now - kind.older_than
        if dry_run:
            done.append(Pruned(kind.name, kind.older_than, _count(db, kind, cutoff)))
            continue
        rows, batches, more = 0, 0, False
        while True:
            deleted, picked = _delete_batch(db, kind, cutoff, batch, actor=actor, now=now)
            rows += deleted
            batches += 1
            if picked < batch:
                break
            if deleted == 0:
                # All picked and none deleted: another transaction holds them (SKIP LOCKED) or
                # changed them. Picking again would find the same ones: try on a later pass.
                more = True
                break
            if max_batches is not None and batches >= max_batches:
                more = True  # a full batch: there may be more
                break
        done.append(Pruned(kind.name, kind.older_than, rows, more))
    return done


def _count(db: Database, kind: Kind, cutoff: datetime) -> int:
    with db.session() as session:
        found = session.scalar(
            select(func.count()).select_from(kind.table).where(kind.past(cutoff))
        )
    return int(found or 0)


def _delete_batch(
    db: Database, kind: Kind, cutoff: datetime, batch: int, *, actor: str, now: datetime
) -> tuple[int, int]:
    """Delete one batch of `kind` (and record what it must); return (rows deleted, picked)."""
    with db.session() as session:  # a read: on SQLite no write lock while it searches
        ids = list(
            session.scalars(
                select(kind.key).where(kind.past(cutoff)).order_by(kind.key).limit(batch)
            )
        )
    if not ids:
        return 0, 0
    with db.transaction() as session:
        chosen = select(kind.key).where(kind.key.in_(ids), kind.past(cutoff))
        if not db.is_sqlite:
            # Another engine deleting the same batch: it takes what it locked, we the rest.
            chosen = chosen.with_for_update(skip_locked=True)
        mine = list(session.scalars(chosen))
        if mine:
            if kind.record is not None:
                kind.record(session, mine, cutoff, actor, now)
            session.execute(
                delete(kind.table).where(kind.key.in_(mine)),
                execution_options={"synchronize_session": False},
            )
    return len(mine), len(ids)
