"""Real `warroom engine` processes and silent heartbeats: one incident each, whatever happens."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from tests.engine.processes import start_engine, stop
from tests.engine.test_engine_processes import engine_setup
from warroom.detection.models import Heartbeat
from warroom.incidents.models import Incident, TimelineEvent
from warroom.runtime import Runtime

BEATS = 300  # six times one check's batch (50): both engines can take a share
INTERVAL = 5  # seconds


def _config(path: Path, count: int) -> Path:
    """Write a warroom.yaml with `count` heartbeats on one service, 5s apart at most."""
    path.write_text(
        yaml.safe_dump(
            {
                "services": [{"id": "monitoring"}],
                "heartbeats": [
                    {"id": f"beat-{n}", "service": "monitoring", "interval": f"{INTERVAL}s"}
                    for n in range(count)
                ],
                "notifications": {"incident_channels": False},
                # One incident per heartbeat, no alert storm's parent among them.
                "detection": {"storm": {"enabled": False}},
            }
        )
    )
    return path


def _ping_all(runtime: Runtime, count: int) -> None:
    for n in range(count):
        runtime.intake.ping(f"beat-{n}")


def _wait_all_down(runtime: Runtime, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    down = 0
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            down = len(list(session.scalars(select(Heartbeat.id).where(Heartbeat.state == "down"))))
        if down == count:
            return
        time.sleep(0.2)
    raise AssertionError(f"{down} of {count} heartbeats down")


def _one_incident_each(runtime: Runtime, count: int) -> None:
    """Every heartbeat has its own incident, and each incident says once which one it is."""
    with runtime.db.session() as session:
        numbers = list(session.scalars(select(Heartbeat.incident_number)))
        incidents = list(session.scalars(select(Incident.number)))
        missed = Counter(
            event.data["heartbeat"]
            for event in session.scalars(
                select(TimelineEvent).where(TimelineEvent.kind == "heartbeat_missed")
            )
        )
    assert len(incidents) == count and sorted(numbers) == sorted(incidents)  # type: ignore[type-var]
    assert set(missed) == {f"beat-{n}" for n in range(count)} and max(missed.values()) == 1


def _clean_logs(tmp_path: Path) -> None:
    for log in tmp_path.glob("engine-*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_engines_open_one_incident_per_silent_heartbeat(
    tmp_path: Path, database_url: str, runbooks_dir: Path
) -> None:
    runtime, env = engine_setup(
        tmp_path, database_url, runbooks_dir, _config(tmp_path / "warroom.yaml", BEATS)
    )
    engines = [start_engine(env, tmp_path / f"engine-{i}.log") for i in (1, 2)]
    try:
        _ping_all(runtime, BEATS)  # both engines run while every heartbeat falls silent
        _wait_all_down(runtime, BEATS, timeout=120)
        time.sleep(2 * INTERVAL)  # long enough for a double to show, were there one
    finally:
        for process in engines:
            stop(process)
    try:
        _one_incident_each(runtime, BEATS)
        _clean_logs(tmp_path)
    finally:
        runtime.close()


def test_an_engine_killed_in_the_silent_period_loses_nothing(
    tmp_path: Path, database_url: str, runbooks_dir: Path
) -> None:
    count = 20
    runtime, env = engine_setup(
        tmp_path, database_url, runbooks_dir, _config(tmp_path / "warroom.yaml", count)
    )
    try:
        first = start_engine(env, tmp_path / "engine-1.log")  # it ticks: the rows are synced
        _ping_all(runtime, count)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        time.sleep(INTERVAL + 1)  # they fall silent while no engine runs
        with runtime.db.session() as session:
            assert set(session.scalars(select(Heartbeat.state))) == {"up"}
            assert list(session.scalars(select(Incident.number))) == []
        second = start_engine(env, tmp_path / "engine-2.log")  # started again: they are due now
        try:
            _wait_all_down(runtime, count, timeout=60)
        finally:
            stop(second)
        third = start_engine(env, tmp_path / "engine-3.log")  # and once more: nothing doubles
        try:
            time.sleep(3)
        finally:
            stop(third)
        _one_incident_each(runtime, count)
        _clean_logs(tmp_path)
    finally:
        runtime.close()
