"""Re-walk the whole chain: every entry's hash, its link to the one before, and the head."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, func, select

from warroom.audit.chain import GENESIS, entry_hash, hashed_fields
from warroom.audit.models import AuditEntry
from warroom.audit.service import head
from warroom.storage.db import Database

BATCH = 10_000


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: how many entries it checked and the first that is broken."""

    checked: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None  # the first entry that fails, or None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """Tell whether the chain is whole."""
        return self.reason is None


def count(db: Database) -> int:
    """Return how many entries the log holds (for a progress bar)."""
    with db.reading() as connection:
        return int(connection.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


def verify(
    db: Database,
    *,
    kept_head: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Verdict:
    """Check every entry in order; `kept_head` is a head hash saved earlier, outside warroom.

    A changed entry no longer matches its hash; a deleted or reordered one breaks the
    numbering or the link to its predecessor; removing the newest entries and rewriting
    the head row is caught only against a head kept elsewhere (`warroom audit head`).
    """
    columns = (
        AuditEntry.seq,
        AuditEntry.at,
        AuditEntry.actor,
        AuditEntry.client,
        AuditEntry.action,
        AuditEntry.target,
        AuditEntry.outcome,
        AuditEntry.details,
        AuditEntry.prev_hash,
        AuditEntry.hash,
    )
    expected_seq, prev, checked = 1, GENESIS, 0
    kept_found = kept_head is None or kept_head == GENESIS
    with db.read_engine.connect() as connection:
        if not db.is_sqlite:  # one snapshot for the head and every entry (SQLite's read is one)
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        head_seq, head_hash = head(connection)
        result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(
            select(*columns).order_by(AuditEntry.seq)
        )
        for rows in result.partitions():
            for row in rows:
                broken = _check(row, expected_seq, prev)
                if broken:
                    return Verdict(checked, head_seq, head_hash, row.seq, broken)
                prev, expected_seq, checked = row.hash, row.seq + 1, checked + 1
                kept_found = kept_found or row.hash == kept_head
            if progress:
                progress(len(rows))
    last_seq = expected_seq - 1
    if (head_seq, head_hash) != (last_seq, prev):
        reason = (
            f"the head row says entry {head_seq} with hash {head_hash[:12]}…, but the log ends "
            f"at entry {last_seq} with hash {prev[:12]}…: entries were removed or added"
        )
        return Verdict(checked, head_seq, head_hash, last_seq + 1, reason)
    if not kept_found:
        reason = (
            f"the head hash you kept ({kept_head}) is not in the chain: entries up to it "
            "were removed or rewritten"
        )
        return Verdict(checked, head_seq, head_hash, None, reason)
    return Verdict(checked, head_seq, head_hash)


def _check(row: Row[Any], expected_seq: int, prev: str) -> str | None:
    """Return why `row` breaks the chain at this point, or None."""
    seq = int(row.seq)
    if seq != expected_seq:  # ordered by the primary key: only a gap is possible
        gone = (
            f"entry {expected_seq}"
            if seq == expected_seq + 1
            else f"entries {expected_seq}–{seq - 1}"
        )
        return f"{gone} missing: entry {seq} follows entry {expected_seq - 1}"
    if row.prev_hash != prev:
        return (
            f"entry {seq} does not follow entry {seq - 1}: it names {row.prev_hash[:12]}… as "
            f"the previous hash, and entry {seq - 1}'s is {prev[:12]}…"
        )
    fields = hashed_fields(
        seq=seq,
        at=row.at,
        actor=row.actor,
        client=row.client,
        action=row.action,
        target=row.target,
        outcome=row.outcome,
        details=row.details,
    )
    if entry_hash(prev, fields) != row.hash:
        return f"entry {seq} was changed after it was written: it no longer matches its hash"
    return None
