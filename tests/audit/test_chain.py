"""The audit chain: entries commit with their transaction, and SQL behind warroom's back shows."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from warroom.audit import service as audit
from warroom.audit.chain import GENESIS
from warroom.audit.verify import verify
from warroom.runtime import Runtime
from warroom.storage.db import Database


def _write(runtime: Runtime, n: int, *, actor: str = "ada") -> None:
    for i in range(n):
        with runtime.db.transaction() as session:
            audit.record(
                session,
                "incident.read",
                actor=actor,
                at=runtime.clock.now() + timedelta(seconds=i),
                target=f"INC-{i + 1}",
                details={"why": f"read {i}", "n": i, "tags": ["a", "é"], "ok": True},
                client="127.0.0.1",
            )


def _tamper(db: Database, *statements: str) -> None:
    """Run SQL as someone with the database's keys would: triggers off first."""
    with db.write_engine.begin() as conn:
        if db.is_sqlite:
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_head_forward"):
                conn.execute(text(f"DROP TRIGGER {name}"))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            conn.execute(text(statement))


def test_entries_chain_in_order_and_verify(runtime: Runtime) -> None:
    _write(runtime, 5)
    verdict = verify(runtime.db)
    assert verdict.ok and verdict.checked == 5
    with runtime.db.session() as session:
        rows = audit.entries(session, limit=10)
        assert [r.seq for r in rows] == [5, 4, 3, 2, 1]
        assert rows[-1].prev_hash == GENESIS
        assert all(a.prev_hash == b.hash for a, b in itertools.pairwise(rows))
        assert audit.head(session) == (5, rows[0].hash)
        assert rows[0].details == {"why": "read 4", "n": 4, "tags": ["a", "é"], "ok": True}


def test_a_rolled_back_transaction_leaves_no_entry(runtime: Runtime) -> None:
    def failing_change() -> None:
        with runtime.db.transaction() as session:
            audit.record(session, "token.create", actor="ada", at=runtime.clock.now())
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert verify(runtime.db).checked == 0


def test_the_database_refuses_changes_and_deletes(runtime: Runtime) -> None:
    _write(runtime, 2)
    for statement in (
        "UPDATE audit_log SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 2",
        "UPDATE audit_head SET seq = 1",
        "DELETE FROM audit_head",
    ):
        refused = r"append-only|only moves forward|cannot be deleted"
        with pytest.raises(Exception, match=refused), runtime.db.write_engine.begin() as conn:
            conn.execute(text(statement))
    assert verify(runtime.db).ok


@pytest.mark.parametrize(
    ("statements", "seq", "says"),
    [
        (["UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"], 3, "was changed"),
        (["UPDATE audit_log SET details = '{}' WHERE seq = 4"], 4, "was changed"),
        (["DELETE FROM audit_log WHERE seq = 3"], 4, "entry 3 missing"),
        (["DELETE FROM audit_log WHERE seq IN (2, 3)"], 4, "entries 2–3 missing"),
        # Swap two entries' places: each now sits where its hash says it does not.
        (
            [
                "UPDATE audit_log SET seq = 100 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 100",
            ],
            2,
            "does not follow",
        ),
        # Rewrite an entry and its own hash: the next entry's link gives it away.
        (["UPDATE audit_log SET hash = 'f' || substr(hash, 2) WHERE seq = 2"], 2, "was changed"),
        # Drop the newest entry: the head row still counts it.
        (["DELETE FROM audit_log WHERE seq = 6"], 6, "removed or added"),
    ],
)
def test_verify_names_the_first_broken_entry(
    runtime: Runtime, statements: list[str], seq: int, says: str
) -> None:
    _write(runtime, 6)
    _tamper(runtime.db, *statements)
    verdict = verify(runtime.db)
    assert not verdict.ok
    assert verdict.broken_seq == seq
    assert verdict.reason is not None and says in verdict.reason


def test_a_kept_head_catches_a_truncated_tail(runtime: Runtime) -> None:
    _write(runtime, 4)
    with runtime.db.session() as session:
        kept_seq, kept = audit.head(session)
        prior_hash = audit.entries(session, limit=2)[1].hash
    # Remove the newest entry and move the head back, as an attacker with the keys could.
    _tamper(
        runtime.db,
        "DELETE FROM audit_log WHERE seq = 4",
        f"UPDATE audit_head SET seq = 3, hash = '{prior_hash}'",
    )
    assert verify(runtime.db).ok  # the chain alone cannot tell
    verdict = verify(runtime.db, kept_head=kept)
    assert not verdict.ok and verdict.reason is not None and kept in verdict.reason
    assert kept_seq == 4


def test_concurrent_writers_make_one_chain(runtime: Runtime) -> None:
    threads = [
        threading.Thread(target=_write, args=(runtime, 15), kwargs={"actor": f"w{i}"})
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = verify(runtime.db)
    assert verdict.ok, verdict.reason
    assert verdict.checked == 60 and verdict.head_seq == 60
