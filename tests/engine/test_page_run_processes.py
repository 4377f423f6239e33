"""Real `warroom engine` processes and personal rules: kill -9 between two rule steps, and
two engines on PostgreSQL sharing the runs. The receiver is the Slack fake on loopback."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from tests.engine.processes import exactly_once, slack_settings, start_engine, stop
from tests.engine.test_engine_processes import _declare, engine_setup
from tests.notify.slack_server import SlackServer
from warroom.escalation.models import PageRun
from warroom.notify.models import Notification
from warroom.runtime import Runtime

RULES = 3  # Alice's rules: a Slack DM at once, again after 4 s, and after 8 s


def _config(path: Path, slack: SlackServer) -> Path:
    """Write a warroom.yaml: one step pages Alice, whose own rules page her three times."""
    path.write_text(
        yaml.safe_dump(
            {
                "people": [
                    {
                        "id": "alice",
                        "name": "Alice",
                        "slack": "UALICE1",
                        "notification_rules": [
                            {"after": f"{rule * 4}s", "via": ["chat"]} for rule in range(RULES)
                        ],
                    }
                ],
                "services": [{"id": "checkout", "escalation": "once"}],
                "escalation_policies": [{"id": "once", "steps": [{"notify": ["person:alice"]}]}],
                "integrations": {"slack": slack_settings(slack)},
                "notifications": {
                    "incident_channels": False,
                    "claim_lease": "3s",
                    "rate_limits": {"person": {"count": 1000000, "per": "1s"}},
                },
            }
        )
    )
    return path


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The Slack fake, with the channel announcements go to."""
    with SlackServer() as server:
        server.add_channel("incident-response")
        yield server


@pytest.fixture
def setup(
    tmp_path: Path, database_url: str, runbooks_dir: Path, slack: SlackServer
) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """A runtime on the real clock (to declare) and the environment for engine processes."""
    runtime, env = engine_setup(
        tmp_path, database_url, runbooks_dir, _config(tmp_path / "warroom.yaml", slack)
    )
    yield runtime, env
    runtime.close()


def expected_keys(incidents: int) -> set[str]:
    """Return the outbox key of every rule of every incident's page run."""
    return {
        f"inc{n}:page:0:0:alice" + (f":r{rule}" if rule else "") + ":chat"
        for n in range(1, incidents + 1)
        for rule in range(RULES)
    }


def page_rows(runtime: Runtime) -> dict[str, tuple[str, int | None]]:
    """Return key -> (status, bundled into) of every page in the outbox."""
    with runtime.db.session() as session:
        rows = session.execute(
            select(Notification.key, Notification.status, Notification.bundled_into).where(
                Notification.action == "page"
            )
        )
        return {key: (status, into) for key, status, into in rows}


def wait_until_done(runtime: Runtime, incidents: int, timeout: float) -> None:
    """Wait until every run has sent its last rule and nothing is left unsent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            active = session.scalar(
                select(func.count()).select_from(PageRun).where(PageRun.state == "active")
            )
        rows = page_rows(runtime)
        if (
            not active
            and len(rows) == incidents * RULES
            and all(status == "sent" for status, _ in rows.values())
        ):
            return
        time.sleep(0.2)
    raise AssertionError(f"not done: {active} active runs, {len(rows)} pages")


def received(slack: SlackServer) -> Counter[str]:
    """Return how often Slack accepted each page (bundled pages ride on their head's key)."""
    return Counter(k for k in slack.keys("chat.postMessage") if k and ":page:" in k)


def delivered(runtime: Runtime, slack: SlackServer) -> set[str]:
    """Return every page key that reached Slack, alone or bundled into another."""
    rows = page_rows(runtime)
    ids = {}
    with runtime.db.session() as session:
        ids = dict(session.execute(select(Notification.id, Notification.key)).all())
    heads = set(received(slack))
    return {key for key, (_, into) in rows.items() if key in heads or ids.get(into) in heads}


def test_kill_9_between_rule_steps_loses_none_and_repeats_none(
    setup: tuple[Runtime, dict[str, str]], slack: SlackServer, tmp_path: Path
) -> None:
    runtime, env = setup
    incidents = 40
    first = start_engine(env, tmp_path / "engine-1.log")
    _declare(runtime, incidents)
    try:
        # Kill once the first rule of every run is out: the later rules are 4 and 8 s away.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with runtime.db.session() as session:
                runs = session.scalar(select(func.count()).select_from(PageRun))
            if runs == incidents and len(page_rows(runtime)) >= incidents:
                break
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    with runtime.db.session() as session:
        in_flight = set(
            session.scalars(select(Notification.key).where(Notification.status == "sending"))
        )
        waiting = session.scalar(
            select(func.count()).select_from(PageRun).where(PageRun.state == "active")
        )
    assert waiting, "the kill came too late: no run had rules left"
    second = start_engine(env, tmp_path / "engine-2.log")
    try:
        wait_until_done(runtime, incidents, timeout=90)
    finally:
        stop(second)
    assert set(page_rows(runtime)) == expected_keys(incidents)  # none lost, none doubled
    assert delivered(runtime, slack) == expected_keys(incidents)
    repeats = {key for key, count in received(slack).items() if count > 1}
    assert repeats <= in_flight, repeats - in_flight  # only what was mid-send, same key


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_engines_send_each_rule_step_once(
    setup: tuple[Runtime, dict[str, str]], slack: SlackServer, tmp_path: Path, database_url: str
) -> None:
    runtime, env = setup
    incidents = 200
    exactly_once(env)  # nothing is killed here: every message exactly once
    engines = [start_engine(env, tmp_path / f"engine-{i}.log") for i in (1, 2)]
    _declare(runtime, incidents)
    try:
        wait_until_done(runtime, incidents, timeout=180)
    finally:
        for process in engines:
            stop(process)
    assert set(page_rows(runtime)) == expected_keys(incidents)
    assert delivered(runtime, slack) == expected_keys(incidents)
    assert max(received(slack).values()) == 1  # exactly once
    with runtime.db.session() as session:
        owners = set(
            session.scalars(
                select(Notification.claimed_by).where(Notification.action == "page").distinct()
            )
        )
    assert len(owners) == 2  # both engines took a share
