"""Group commit: many concurrent writes share one transaction and one fsync.

An alert Alertmanager saw accepted must be on disk before we answer (it will not be sent
again), but an fsync per request caps a single SQLite file at a few thousand requests a
second. Jobs queue here; one writer thread runs every queued job in one transaction, each
inside its own SAVEPOINT so one bad job fails alone, then commits once and answers them all.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from warroom.storage.db import Database

log = logging.getLogger("warroom.storage")
MAX_BATCH = 256


@dataclass
class _Job:
    work: Callable[[Session], Any]
    future: Future[Any]


class GroupCommitter:
    """Runs submitted jobs on one writer thread, committing each batch at once."""

    def __init__(
        self,
        db: Database,
        *,
        name: str = "group-commit",
        after_commit: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.db = db
        self.name = name
        self.after_commit = after_commit
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # for tests and benchmarks: how many commits served how many jobs
        self.jobs = 0

    def submit(self, work: Callable[[Session], Any]) -> Future[Any]:
        """Queue `work(session)`; the future resolves once its batch is committed."""
        self._ensure_thread()
        future: Future[Any] = Future()
        self._queue.put(_Job(work, future))
        return future

    def run(self, work: Callable[[Session], Any]) -> Any:
        """Submit and wait for the result (raises the job's own exception)."""
        return self.submit(work).result()

    def close(self, timeout: float = 10.0) -> None:
        """Finish queued jobs, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                batch.append(job)
            self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[_Job]) -> None:
        """Run a batch in one transaction; each job in a savepoint of its own."""
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            with self.db.transaction() as session:
                for job in batch:
                    try:
                        with session.begin_nested():
                            result = job.work(session)
                            self.db.run_before_commit(session)
                        outcomes.append((job, result, None))
                    except Exception as exc:  # the job's own failure; the others go on
                        outcomes.append((job, None, exc))
        except Exception as exc:  # the commit itself failed: nothing of the batch is kept
            log.exception("group commit of %d jobs failed", len(batch))
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self.batches += 1
        self.jobs += len(batch)
        if self.after_commit is not None:
            # Before answering, so a caller that got its answer also sees the files.
            try:
                self.after_commit([r for _, r, e in outcomes if e is None])
            except Exception:  # files and metrics must not stop the writer
                log.exception("after-commit work failed")
        for job, result, error in outcomes:
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)
