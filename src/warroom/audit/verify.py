"""Re-walk the whole chain: every entry's hash, its link to the one before, and the head."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select

from warroom.audit.chain import GENESIS, entry_hash, timestamp
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


# Driver-level, no ORM: a million rows through SQLAlchemy's result processing cost more than
# hashing them. The details come back as the JSON text stored, on both databases.
ROWS = (
    "SELECT seq, {at}, actor, client, action, target, outcome, CAST(details AS TEXT), "
    "prev_hash, hash FROM audit_log ORDER BY seq"
)
# PostgreSQL writes the time as the chain does: no datetime is built per row.
PG_AT = """to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


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
    expected_seq, prev, checked = 1, GENESIS, 0
    kept_found = kept_head is None or kept_head == GENESIS
    with db.read_engine.connect() as connection:
        if not db.is_sqlite:  # one snapshot for the head and every entry (SQLite's read is one)
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        head_seq, head_hash = head(connection)
        raw = connection.connection.dbapi_connection
        assert raw is not None
        # PostgreSQL streams through a server-side cursor instead of sending every row at once.
        cursor = raw.cursor() if db.is_sqlite else raw.cursor(name="warroom_audit_verify")
        try:
            cursor.execute(ROWS.format(at="at" if db.is_sqlite else PG_AT))
            for rows in _prefetched(cursor):
                for row in rows:
                    broken = _check(row, expected_seq, prev)
                    if broken:
                        return Verdict(checked, head_seq, head_hash, row[0], broken)
                    prev = row[9]
                    expected_seq, checked = row[0] + 1, checked + 1
                    if not kept_found and prev == kept_head:
                        kept_found = True
                if progress:
                    progress(len(rows))
        finally:
            cursor.close()
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


def _prefetched(cursor: Any) -> Iterator[list[Any]]:
    """Yield the cursor's rows in batches, the next fetched while the caller hashes this one.

    Both drivers let go of the GIL while they wait for rows, so reading and hashing overlap:
    on PostgreSQL the rows are made by the server's own process.
    """
    ahead: queue.Queue[list[Any] | BaseException | None] = queue.Queue(maxsize=2)
    stopping = threading.Event()

    def fetch() -> None:
        try:
            while not stopping.is_set() and (rows := cursor.fetchmany(BATCH)):
                ahead.put(rows)
        except BaseException as exc:  # handed to the caller, raised there
            ahead.put(exc)
            return
        ahead.put(None)

    reader = threading.Thread(target=fetch, name="audit-verify-reader", daemon=True)
    reader.start()
    try:
        while (item := ahead.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:  # a broken entry ends the walk early: stop the reader before the cursor closes
        stopping.set()
        while reader.is_alive():
            with suppress(queue.Empty):
                ahead.get(timeout=0.05)


def _stamp(value: Any) -> str:
    """Return a stored time as the chain writes it (SQLite gives text, PostgreSQL a datetime)."""
    if isinstance(value, datetime):
        return timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))
    text = str(value)
    if len(text) == 27 and text[10] == "T" and text[-1] == "Z":  # PG_AT's form: the chain's
        return text
    if len(text) == 26 and text[10] == " ":  # SQLAlchemy's SQLite form, always microseconds
        return f"{text[:10]}T{text[11:]}Z"
    return timestamp(datetime.fromisoformat(text).replace(tzinfo=UTC))


def _check(row: Sequence[Any], expected_seq: int, prev: str) -> str | None:
    """Return why `row` breaks the chain at this point, or None."""
    seq, at, actor, client, action, target, outcome, details, prev_hash, digest = row
    if seq != expected_seq:  # ordered by the primary key: only a gap is possible
        gone = f"entry {expected_seq}"
        if seq > expected_seq + 1:
            gone = f"entries {expected_seq}–{seq - 1}"
        return f"{gone} missing: entry {seq} follows entry {expected_seq - 1}"
    if prev_hash != prev:
        return (
            f"entry {seq} does not follow entry {seq - 1}: it names {prev_hash[:12]}… as "
            f"the previous hash, and entry {seq - 1}'s is {prev[:12]}…"
        )
    try:
        fields = {
            "seq": seq,
            "at": _stamp(at),
            "actor": actor,
            "client": client,
            "action": action,
            "target": target,
            "outcome": outcome,
            "details": orjson.loads(details),
        }
    except (ValueError, TypeError):
        return f"entry {seq} was changed after it was written: it cannot be read back"
    if entry_hash(prev, fields, checked=True) != digest:
        return f"entry {seq} was changed after it was written: it no longer matches its hash"
    return None
