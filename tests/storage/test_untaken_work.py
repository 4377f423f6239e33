"""A Database without the notification planner says so instead of queueing nothing silently."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import START
from warroom.config import WarroomConfig
from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime
from warroom.storage.db import Database

RITA = Actor(name="rita", source="api")


def test_timeline_events_without_a_planner_are_reported_once(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(database_url)  # as an admin tool might: no before-commit listener
    caplog.set_level(logging.WARNING, "warroom.storage")
    try:
        for title in ("one", "two"):
            with db.transaction() as session:
                incidents.declare(
                    session, config=WarroomConfig(), now=START, actor=RITA, title=title
                )
    finally:
        db.dispose()
    warnings = [r.getMessage() for r in caplog.records if r.name == "warroom.storage"]
    assert len(warnings) == 1
    assert "no notifications are planned" in warnings[0]
    assert "warroom.timeline.new_events" in warnings[0]


def test_no_warning_when_the_planner_takes_the_events(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "warroom.storage")
    runtime.flows.declare(actor=RITA, title="planned")
    assert not [r for r in caplog.records if r.name == "warroom.storage"]
