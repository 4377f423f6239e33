"""Group commit: batches share a transaction; a failing job fails alone."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.storage.counters import Counter, next_value
from warroom.storage.db import Database
from warroom.storage.group_commit import GroupCommitter


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    yield database  # type: ignore[misc]
    database.dispose()


def test_jobs_commit_and_batch(db: Database) -> None:
    gate = threading.Event()
    seen: list[int] = []
    committer = GroupCommitter(db, after_commit=lambda results: seen.extend(results))

    def slow_first(session: Session) -> int:
        gate.wait(5)  # hold the writer so the other jobs queue up behind it
        return next_value(session, "jobs")

    first = committer.submit(slow_first)
    futures = [committer.submit(lambda s: next_value(s, "jobs")) for _ in range(30)]
    gate.set()
    values = [first.result(10)] + [f.result(10) for f in futures]
    committer.close()
    assert sorted(values) == list(range(1, 32))
    assert committer.jobs == 31
    assert committer.batches < 31  # the 30 queued jobs shared commits
    assert sorted(seen) == sorted(values)
    with db.session() as session:
        assert session.scalar(select(Counter.value).where(Counter.name == "jobs")) == 31


def test_failing_job_is_rolled_back_alone(db: Database) -> None:
    committer = GroupCommitter(db)
    gate = threading.Event()

    def hold(session: Session) -> int:
        gate.wait(5)
        return next_value(session, "a")

    def broken(session: Session) -> int:
        next_value(session, "b")  # written, then undone with its savepoint
        raise ValueError("bad delivery")

    held = committer.submit(hold)
    bad = committer.submit(broken)
    good = committer.submit(lambda s: next_value(s, "a"))
    gate.set()
    assert held.result(10) == 1 and good.result(10) == 2
    with pytest.raises(ValueError, match="bad delivery"):
        bad.result(10)
    committer.close()
    with db.session() as session:
        names = set(session.scalars(select(Counter.name)))
        assert names == {"a"}


def test_many_threads(db: Database) -> None:
    committer = GroupCommitter(db)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: committer.run(lambda s: next_value(s, "n")), range(200)))
    committer.close()
    assert sorted(results) == list(range(1, 201))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Counter)) == 1
