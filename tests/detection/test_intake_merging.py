"""Deliveries queued together are ingested as one run; a bad one fails alone."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from warroom.detection.models import Alert
from warroom.detection.schemas import AlertIn
from warroom.runtime import Runtime


def alert(fingerprint: str, **labels: str) -> AlertIn:
    return AlertIn(
        source="webhook",
        fingerprint=fingerprint,
        status="firing",
        labels={"alertname": "Disk", **labels},
        title=f"Disk {fingerprint}",
    )


def hold_writer(runtime: Runtime) -> threading.Event:
    """Park the intake writer on a job so the next deliveries queue up behind it."""
    gate = threading.Event()

    def wait(_session: Session) -> list[Any]:
        gate.wait(10)
        return []

    runtime.intake._committer.submit(wait)
    return gate


def test_queued_deliveries_merge_and_keep_their_own_answers(runtime: Runtime) -> None:
    gate = hold_writer(runtime)
    first = runtime.intake.submit(
        source="webhook", integration="w", alerts=[alert("a1"), alert("a2")]
    )
    second = runtime.intake.submit(
        source="webhook", integration="w", alerts=[alert("a1"), alert("b1")]
    )
    third = runtime.intake.submit(source="webhook", integration="x", alerts=[alert("c1")])
    gate.set()
    one, two, three = first.result(10), second.result(10), third.result(10)
    assert (one.accepted, one.new, one.repeated) == (2, 2, 0)
    assert (two.accepted, two.new, two.repeated) == (2, 1, 1)  # a1 again: a repeat
    assert (three.accepted, three.new) == (1, 1)
    with runtime.db.session() as session:
        seen = {a.fingerprint: a.seen_count for a in session.scalars(select(Alert))}
    assert seen == {"a1": 2, "a2": 1, "b1": 1, "c1": 1}


def test_a_resolve_before_its_firing_in_one_run_keeps_its_order(runtime: Runtime) -> None:
    # Two replicas of a sender: one says fp1 resolved, the other (later) that it fires. In
    # order, the resolve finds nothing open and the firing opens the incident; a bulk path
    # that opened it first would have the resolve close it and the firing open a second row.
    gate = hold_writer(runtime)
    resolved = AlertIn(
        source="webhook", fingerprint="fp1", status="resolved", labels={"alertname": "Disk"}
    )
    first = runtime.intake.submit(source="webhook", integration="w", alerts=[resolved])
    second = runtime.intake.submit(source="webhook", integration="w", alerts=[alert("fp1")])
    gate.set()
    assert first.result(10).resolved == 0 and second.result(10).new == 1
    assert second.result(10).opened
    with runtime.db.session() as session:
        rows = [
            (a.status, a.is_open, a.incident_id is not None) for a in session.scalars(select(Alert))
        ]
    assert rows == [("firing", True, True)]


def refuse_poison(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make routing fail for an alert labelled poison (a delivery that fails alone)."""
    router = runtime.intake.router()
    decide = router.decide

    def picky(labels: Any, **kwargs: Any) -> Any:
        if labels.get("poison"):
            raise RuntimeError("cannot route this one")
        return decide(labels, **kwargs)

    monkeypatch.setattr(router, "decide", picky)


def test_a_failing_delivery_fails_alone(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_poison(runtime, monkeypatch)
    gate = hold_writer(runtime)
    good = runtime.intake.submit(source="webhook", integration="w", alerts=[alert("g1")])
    bad = runtime.intake.submit(
        source="webhook", integration="w", alerts=[alert("p1", poison="yes")]
    )
    also_good = runtime.intake.submit(source="webhook", integration="w", alerts=[alert("g2")])
    gate.set()
    assert good.result(10).new == 1 and also_good.result(10).new == 1
    with pytest.raises(RuntimeError, match="cannot route"):
        bad.result(10)
    with runtime.db.session() as session:
        stored = sorted(a.fingerprint for a in session.scalars(select(Alert)))
    assert stored == ["g1", "g2"]


def test_the_next_drain_commits_while_the_files_are_written_and_answers_wait_for_them(
    runtime: Runtime, runbooks_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = runtime.intake.runbooks
    publish = directory.publish
    files_gate, writing = threading.Event(), threading.Event()

    def slow_publish(incident: Any, severity_name: str | None = None) -> bool:
        writing.set()
        files_gate.wait(10)
        return publish(incident, severity_name)

    monkeypatch.setattr(directory, "publish", slow_publish)
    first = runtime.intake.submit(source="webhook", integration="w", alerts=[alert("f1")])
    assert writing.wait(10)  # committed; its file is being written
    second = runtime.intake.submit(source="webhook", integration="w", alerts=[alert("f2")])
    # The second drain commits without waiting for the first one's file ...
    for _ in range(200):
        with runtime.db.session() as session:
            if session.scalar(select(Alert.id).where(Alert.fingerprint == "f2")) is not None:
                break
        time.sleep(0.05)
    else:
        pytest.fail("the second delivery was not committed while the first's file was written")
    # ... and neither is answered before its file is written.
    assert not first.done() and not second.done()
    files_gate.set()
    assert first.result(10).opened and second.result(10).opened
    written = sorted(p.name for p in (runbooks_dir / "active").glob("INC-*.md"))
    assert [name.split("-")[1] for name in written] == ["1", "2"]


def test_a_drains_files_are_written_by_several_threads_before_its_answers(
    runtime: Runtime, runbooks_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file's fsync waits on the disk: a storm's files are written side by side.
    directory = runtime.intake.runbooks
    publish = directory.publish
    writing = threading.Condition()
    inside, most = 0, 0  # files being written now, and the most at once

    def side_by_side(incident: Any, severity_name: str | None = None) -> bool:
        nonlocal inside, most
        with writing:
            inside += 1
            most = max(most, inside)
            writing.notify_all()
            # Wait (a while) for another writer: one thread writing in turn never has company.
            writing.wait_for(lambda: most >= 2, timeout=20)
            inside -= 1
        return publish(incident, severity_name)

    monkeypatch.setattr(directory, "publish", side_by_side)
    alerts = [alert(f"s{n}", group=f"g{n}") for n in range(8)]  # eight groups: eight incidents
    answer = runtime.intake.submit(source="webhook", integration="w", alerts=alerts)
    assert len(answer.result(30).opened) == 8
    written = list((runbooks_dir / "active").glob("INC-*.md"))
    assert len(written) == 8  # every file was on disk when the answer came
    assert most >= 2


def test_a_cancelled_waiter_does_not_leave_the_others_unanswered(runtime: Runtime) -> None:
    gate = hold_writer(runtime)
    first = runtime.intake.submit(source="webhook", integration="w", alerts=[alert("x1")])
    second = runtime.intake.submit(source="webhook", integration="w", alerts=[alert("y1")])
    assert first.cancel()  # what asyncio.wrap_future does when a request is cancelled
    gate.set()
    assert second.result(10).accepted == 1
