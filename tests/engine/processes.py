"""Real `warroom engine` processes for the tests: started, waited for, stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import free_port
from tests.notify.slack_server import SlackServer


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


def lease_longer(env: dict[str, str], lease: str = "60s") -> None:
    """Give the engines' claims the default lease instead of the tests' short one.

    The short lease lets a test see a killed engine's claims taken over within seconds; where
    nothing is killed and every message must go out exactly once, a send slowed past a 3 s
    lease by a loaded machine would be taken over and sent again (at least once, by design).
    """
    path = Path(env["WARROOM_CONFIG"])
    document = yaml.safe_load(path.read_text())
    document.setdefault("notifications", {})["claim_lease"] = lease
    path.write_text(yaml.safe_dump(document))


def slack_settings(slack: SlackServer, timeout: float = 5) -> dict[str, object]:
    """The `integrations.slack` block that points the engines at the Slack fake."""
    return {
        "signing_secret": "s" * 32,
        "bot_token": slack.token,
        "base_url": slack.url,
        "timeout": timeout,
    }
