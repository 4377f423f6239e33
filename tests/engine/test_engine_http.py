"""`warroom engine --port`: a real engine process serving /healthz, /readyz and /metrics."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, make_url, text

from tests.conftest import POSTGRES_URL, empty_postgres_database, free_port
from tests.engine.processes import slack_settings, start_engine, wait_for
from tests.engine.test_engine_processes import ACTOR, engine_setup
from tests.notify.slack_server import SlackServer
from warroom.runtime import Runtime


def _config(path: Path, slack: SlackServer) -> Path:
    """Write a warroom.yaml that announces every incident in #incident-response."""
    path.write_text(
        yaml.safe_dump(
            {
                "integrations": {"slack": slack_settings(slack)},
                "notifications": {"incident_channels": False},
            }
        )
    )
    return path


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The Slack fake with the announcement channel."""
    with SlackServer() as server:
        server.add_channel("incident-response")
        yield server


@pytest.fixture
def setup(
    tmp_path: Path, database_url: str, runbooks_dir: Path, slack: SlackServer
) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """A runtime (to declare) and the environment of the engine process."""
    runtime, env = engine_setup(
        tmp_path, database_url, runbooks_dir, _config(tmp_path / "warroom.yaml", slack)
    )
    yield runtime, env
    runtime.close()


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=15)


def test_engine_port_serves_health_readiness_and_its_metrics(
    setup: tuple[Runtime, dict[str, str]], slack: SlackServer, tmp_path: Path
) -> None:
    runtime, env = setup
    port, log = free_port(), tmp_path / "engine.log"
    base = f"http://127.0.0.1:{port}"
    process = start_engine(env, log, port=port, ready=False)
    try:
        ready = wait_for(f"{base}/readyz", 200, log)
        assert ready.json() == {
            "status": "ready",
            "checks": {
                name: {"ok": True} for name in ("database", "migrations", "runbooks", "engine")
            },
        }
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        runtime.flows.declare(actor=ACTOR, title="Checkout down", severity="SEV-1")
        deadline = time.monotonic() + 20
        while not slack.messages("incident-response") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the send is recorded (and counted) just after Slack answers
        scrape = httpx.get(f"{base}/metrics")
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        text = scrape.text
        # The engine process's own counters: this scrape is the only place they show.
        assert 'warroom_notifications_sent_total{action="post",channel="chat"} 1.0' in text
        for name in (
            "warroom_engine_ticks_total",
            "warroom_engine_lag_seconds",
            'warroom_outbox_depth{status="pending"}',
            "warroom_engine_module_seconds_bucket",
            "warroom_verification_windows_passed",
            'warroom_open_incidents{severity="SEV-1",status="detected"} 1.0',
        ):
            assert name in text, name
        ticks = [ln for ln in text.splitlines() if ln.startswith("warroom_engine_ticks_total ")]
        assert float(ticks[0].split()[1]) >= 1
    finally:
        assert _stop(process) == 0, log.read_text()


@pytest.fixture
def doomed_database() -> Iterator[str]:
    """An empty PostgreSQL database of this test alone, which the test may drop."""
    with empty_postgres_database("doomed") as url:
        yield url


def test_engine_port_answers_503_without_details_when_the_database_goes(
    tmp_path: Path, runbooks_dir: Path, slack: SlackServer, doomed_database: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env |= {
        "WARROOM_DATABASE_URL": doomed_database,
        "WARROOM_CONFIG": str(_config(tmp_path / "warroom.yaml", slack)),
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(runbooks_dir),
        "WARROOM_LOG_LEVEL": "WARNING",
    }
    port, log = free_port(), tmp_path / "engine.log"
    base = f"http://127.0.0.1:{port}"
    process = start_engine(
        env, log, port=port, ready=False
    )  # it creates the tables itself (upgrade first)
    try:
        wait_for(f"{base}/readyz", 200, log, timeout=60)
        database = make_url(doomed_database).database
        with create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        broken = wait_for(f"{base}/readyz", 503, log)
        checks = broken.json()["checks"]
        assert broken.json()["status"] == "not ready"
        assert checks["database"] == checks["migrations"] == {"ok": False}
        assert all(check.keys() == {"ok"} for check in checks.values())  # status alone
        scrape = httpx.get(f"{base}/metrics")
        assert scrape.status_code == 503
        assert scrape.text == "# metrics unavailable: unavailable\n"
        for body in (broken.text, scrape.text):  # anonymous: no path, no driver error
            assert str(tmp_path) not in body
            assert "does not exist" not in body and database not in body
        assert httpx.get(f"{base}/healthz").status_code == 200  # alive, only not ready
    finally:
        assert _stop(process) == 0, log.read_text()
    assert "does not exist" in log.read_text()  # the operator's log has the reason


def test_engine_port_out_of_range_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "warroom", "engine", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "Invalid value for '--port'" in done.stderr


def test_engine_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "warroom", "engine", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            env={**os.environ, "WARROOM_DATA_DIR": str(tmp_path / "var")},
        )
    assert done.returncode == 1
    in_use = f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert done.stderr.strip() == in_use
    assert not (tmp_path / "var").exists()  # refused before touching the database
