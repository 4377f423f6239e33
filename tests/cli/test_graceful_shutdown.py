"""SIGTERM to real `warroom serve` and `warroom engine` processes: finish, hand back, exit.

The server gets a request whose body is still arriving (a slow upload) when SIGTERM comes;
the engine gets SIGTERM while a slow Slack holds the messages it claimed.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from tests.conftest import free_port
from tests.engine.processes import slack_settings
from tests.engine.test_engine_processes import ACTOR, engine_setup
from tests.notify.slack_server import SlackServer
from warroom.notify.models import Notification
from warroom.runtime import Runtime

MESSAGES = 40  # announcements; the sender claims them in one batch of 64
SLOW = 3.0  # seconds Slack holds each answer: the whole batch would take 15 s (8 workers)


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "warroom", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=out,
        )


def _token(log: Path) -> str:
    """Return the admin token the first start printed."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"API token \(shown only this once\): (\S+)", log.read_text())
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(log.read_text())


def _wait_ready(base: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(log.read_text())


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_serve_finishes_a_request_in_flight_and_exits_0_within_10_s(
    tmp_path: Path, database_url: str, runbooks_dir: Path
) -> None:
    config = tmp_path / "warroom.yaml"
    config.write_text("{}\n")  # built-in defaults
    runtime, env = engine_setup(tmp_path, database_url, runbooks_dir, config)
    runtime.close()
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    server = _serve(env, port, log)
    try:
        token = _token(log)
        _wait_ready(base, log)
        body = json.dumps({"title": "Checkout down during the restart", "severity": "SEV-2"})
        head = (
            f"POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        upload = socket.create_connection(("127.0.0.1", port), timeout=15)
        upload.sendall(head.encode() + body[:10].encode())  # in flight: the body is arriving
        time.sleep(0.3)
        server.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        time.sleep(1.0)
        assert server.poll() is None, "it did not wait for the request in flight"
        assert _refused(port), "a new connection was accepted after SIGTERM"
        upload.sendall(body[10:].encode())
        answer = b""
        while chunk := upload.recv(65536):  # the server closes after answering
            answer += chunk
        upload.close()
        status, _, rest = answer.partition(b"\r\n")
        assert status == b"HTTP/1.1 201 Created", answer
        created = json.loads(rest.partition(b"\r\n\r\n")[2])
        assert created["title"] == "Checkout down during the restart"
        assert server.wait(timeout=10) == 0, log.read_text()
        took = time.monotonic() - asked
        print(f"serve: SIGTERM to exit with a request in flight: {took:.2f} s")
        assert took < 10, took
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    restarted = _serve(env, port, tmp_path / "serve-2.log")
    try:
        _wait_ready(base, tmp_path / "serve-2.log")
        listed = httpx.get(
            f"{base}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}
        ).json()
        titles = [item["title"] for item in listed["items"]]
        assert titles == ["Checkout down during the restart"]
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(timeout=10) == 0


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
    """A runtime (to declare and inspect) and the environment of the engine processes."""
    config = tmp_path / "warroom.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "integrations": {"slack": slack_settings(slack, timeout=10)},
                "notifications": {
                    "incident_channels": False,
                    "rate_limits": {"channel": {"count": 1000000, "per": "1s"}},
                },
            }
        )
    )
    runtime, env = engine_setup(tmp_path, database_url, runbooks_dir, config)
    yield runtime, env
    runtime.close()


def _engine(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "warroom", "engine"], env=env, stdout=out, stderr=out
        )


def _posted(slack: SlackServer) -> list[str | None]:
    """Return the keys of every message posted (a held answer too; a repeat twice)."""
    return [call.key for call in slack.calls if call.method == "chat.postMessage"]


@dataclass
class _Row:
    key: str
    status: str
    claimed_until: datetime | None


def _rows(runtime: Runtime) -> list[_Row]:
    with runtime.db.session() as session:
        found = session.scalars(select(Notification).order_by(Notification.id))
        return [_Row(row.key, row.status, row.claimed_until) for row in found]


def test_engine_hands_back_its_claims_on_sigterm_and_a_restart_sends_them(
    setup: tuple[Runtime, dict[str, str]], slack: SlackServer, tmp_path: Path
) -> None:
    runtime, env = setup
    for index in range(MESSAGES):
        runtime.flows.declare(actor=ACTOR, title=f"Checkout {index}", severity="SEV-1")
    slack.hang(sleep=SLOW, deliver=True)  # posted at once, answered SLOW seconds later
    first = _engine(env, tmp_path / "engine-1.log")
    try:
        deadline = time.monotonic() + 30
        while not _posted(slack) and time.monotonic() < deadline:
            time.sleep(0.02)
        claimed = [row for row in _rows(runtime) if row.status == "sending"]
        assert len(claimed) > 8, Counter(row.status for row in _rows(runtime))
        first.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        assert first.wait(timeout=15) == 0, (tmp_path / "engine-1.log").read_text()
        took = time.monotonic() - asked
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    print(f"engine: SIGTERM to exit holding claims: {took:.2f} s")
    assert took < 10, took  # the sends under way (SLOW s), not the batch (15 s)
    rows = _rows(runtime)
    assert not [row.key for row in rows if row.status == "sending"]
    handed_back = [row for row in rows if row.status == "pending"]
    assert handed_back, "every claim was sent before exiting: the batch was not cut short"
    assert all(row.claimed_until is None for row in handed_back)
    sent_before = {row.key for row in rows if row.status == "sent"}
    assert sent_before == set(_posted(slack))  # what Slack got is recorded, and nothing else
    slack.recover()
    second = _engine(env, tmp_path / "engine-2.log")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if all(row.status == "sent" for row in _rows(runtime)):
                break
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
    assert [row.status for row in _rows(runtime)] == ["sent"] * MESSAGES
    received = Counter(_posted(slack))
    assert len(received) == MESSAGES and set(received.values()) == {1}  # each once
