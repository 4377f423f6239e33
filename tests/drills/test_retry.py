"""A step that keeps failing is retried with a growing pause, not at once round after round."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.drills.conftest import start
from tests.drills.test_durable import TIMED
from tests.helpers import Fakes
from warroom.core.clock import FrozenClock
from warroom.detection.schemas import AlertIn, IngestResult
from warroom.drills.models import DrillStep
from warroom.runtime import Runtime


def test_a_failing_step_backs_off_and_logs_one_line(
    api: TestClient,
    runtime: Runtime,
    fakes: Fakes,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    start(api, scenario=TIMED)
    real = runtime.drills.inject

    def broken(*, delivery_ids: tuple[str, ...] = (), **sent: Any) -> IngestResult:
        with runtime.db.session() as session:
            second = session.scalar(select(DrillStep.id).where(DrillStep.position == 1))
        if delivery_ids == (f"drill-step-{second}",):
            raise RuntimeError("intake is down")
        alerts: list[AlertIn] = sent.pop("alerts")
        return real(alerts=alerts, delivery_ids=delivery_ids, **sent)

    runtime.drills.inject = broken
    clock.advance(timedelta(minutes=6))  # the second step is due, the third not yet
    caplog.set_level(logging.WARNING, logger="warroom.drills")
    pauses = []
    for _ in range(8):
        now = clock.now()
        outcome = runtime.drills.update(now)
        assert outcome.next_at is not None and outcome.next_at > now  # no busy loop
        pauses.append(outcome.next_at - now)
        clock.set(outcome.next_at)
    assert pauses[:4] == [timedelta(seconds=s) for s in (1, 2, 4, 8)]
    assert pauses == sorted(pauses) and pauses[-1] == timedelta(seconds=60)  # the cap
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 8
    assert failures[0].exc_info  # the trace once
    assert not any(r.exc_info for r in failures[1:])  # then one line per try
    assert "RuntimeError: intake is down" in failures[-1].getMessage()
    runtime.drills.inject = real  # intake is back: the step goes through on its next try
    outcome = runtime.drills.update(clock.now())
    with runtime.db.session() as session:
        outcomes = list(session.scalars(select(DrillStep.outcome).order_by(DrillStep.position)))
    assert outcomes == ["opened INC-1", "joined INC-1", None]
    assert outcome.next_at is not None and outcome.next_at > clock.now()  # the report's time
