"""Real `warroom engine` processes for the tests: started, waited for, stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import httpx
import yaml
from sqlalchemy import select

from tests.conftest import free_port
from tests.notify.slack_server import SlackServer
from warroom.notify.models import Notification
from warroom.storage.db import Database


def start_engine(
    env: dict[str, str], log: Path, *, port: int | None = None, ready: bool = True
) -> subprocess.Popen[bytes]:
    """Start `warroom engine` serving its health port; with `ready`, return once it ticks.

    Waiting matters on a loaded machine: an engine that takes seconds to start finds every
    step already due (they are timed from the declaration), and a second engine started
    with it may find the work already taken.
    """
    port = port or free_port()
    command = [sys.executable, "-m", "warroom", "engine", "--port", str(port)]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    if ready:
        wait_for(f"http://127.0.0.1:{port}/readyz", 200, log, timeout=60)
    return process


def wait_for(url: str, status: int, log: Path, timeout: float = 30) -> httpx.Response:
    """Poll `url` until it answers `status`; fail with the process's log otherwise."""
    deadline = time.monotonic() + timeout
    answer: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, timeout=5)
            if answer.status_code == status:
                return answer
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    got = answer.status_code if answer is not None else "no answer"
    raise AssertionError(f"{url}: wanted {status}, got {got}\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> int | None:
    """Ask the engine to stop (SIGTERM) and wait for it; return its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(timeout=timeout)


def exactly_once(env: dict[str, str], lease: str = "60s", timeout: float = 30) -> None:
    """Configure the engines for a test that counts every message exactly once.

    Both ways the outbox sends a message twice (at least once, by design) are taken out:
    - the claims get the default lease instead of the tests' short one, which lets a test see
      a killed engine's claims taken over within seconds; a send slowed past a 3 s lease by
      a loaded machine would be taken over and sent again;
    - the Slack client waits `timeout` seconds, not 5: a post the receiver reads only after
      its sender gave up is counted "ok" and posted again, and a loaded machine can keep the
      receiver (threads of the test process) from reading for over 5 s. 30 s is well inside
      the lease.
    """
    path = Path(env["WARROOM_CONFIG"])
    document = yaml.safe_load(path.read_text())
    document.setdefault("notifications", {})["claim_lease"] = lease
    slack = document.get("integrations", {}).get("slack")
    if slack is not None:
        slack["timeout"] = timeout
    path.write_text(yaml.safe_dump(document))


def describe(db: Database, keys: Iterable[str]) -> str:
    """Say for each repeated key how its row was sent: a retry (attempts > 1) or one claim."""
    wanted = sorted(keys)
    with db.session() as session:  # read here: the rollback at its end expires the rows
        rows = session.scalars(select(Notification).where(Notification.key.in_(wanted)))
        found = {
            row.key: f"attempts={row.attempts} claimed_by={row.claimed_by} sent_at={row.sent_at}"
            for row in rows
        }
    lines = [f"{key}: {found.get(key, 'no row')}" for key in wanted]
    return "sent more than once:\n" + "\n".join(lines)


def slack_settings(slack: SlackServer, timeout: float = 5) -> dict[str, object]:
    """The `integrations.slack` block that points the engines at the Slack fake."""
    return {
        "signing_secret": "s" * 32,
        "bot_token": slack.token,
        "base_url": slack.url,
        "timeout": timeout,
    }
