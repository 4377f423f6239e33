"""Several instances on one PostgreSQL: two `warroom serve --no-engine`, two `warroom engine`.

Alerts of the same groups arrive at both API instances at once; the incidents escalate on
both engines. No group may become two incidents, every page must go out exactly once, and
each incident's timeline must hold what happened to it (issue 17, item 1; the full-scale
figures are bench.escalation's).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from tests.conftest import free_port
from tests.engine.test_engine_processes import _engine, _stop, engine_setup
from tests.notify.slack_server import SlackServer
from warroom.detection.models import Alert, AlertGroup
from warroom.escalation.models import Escalation
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify.models import Notification
from warroom.runtime import Runtime

TOKEN = "several-instances-token-0123"
GROUPS = 40
ALERTS_PER_GROUP = 8
STEPS = 2  # pages per incident: two steps, two seconds apart


def _config(path: Path, slack: SlackServer) -> Path:
    """Checkout's alerts group by alertname; its policy posts two steps to #pages."""
    path.write_text(
        yaml.safe_dump(
            {
                "people": [{"id": "alice", "name": "Alice", "slack": "UALICE1"}],
                "services": [{"id": "checkout", "escalation": "fast"}],
                "escalation_policies": [
                    {
                        "id": "fast",
                        "steps": [
                            {"after": f"{step * 2}s", "notify": ["channel:#pages"]}
                            for step in range(STEPS)
                        ],
                    }
                ],
                "routes": [
                    {
                        "match": ['service="checkout"'],
                        "service": "checkout",
                        "severity": "SEV-1",
                        "group_by": ["alertname"],
                    }
                ],
                # Every incident escalates on its own here: storms are tests/detection's.
                "detection": {"storm": {"enabled": False}},
                "integrations": {
                    "alertmanager": [{"name": "prod", "token": TOKEN}],
                    "slack": {
                        "signing_secret": "s" * 32,
                        "bot_token": slack.token,
                        "base_url": slack.url,
                        "timeout": 5,
                    },
                },
                "notifications": {
                    "incident_channels": False,
                    "claim_lease": "3s",
                    "rate_limits": {"channel": {"count": 1000000, "per": "1s"}},
                },
            }
        )
    )
    return path


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The Slack fake with the channels the engines post to."""
    with SlackServer() as server:
        server.add_channel("pages")
        server.add_channel("incident-response")
        yield server


@pytest.fixture
def setup(
    tmp_path: Path, database_url: str, runbooks_dir: Path, slack: SlackServer
) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """A runtime to look with, and the environment of every process."""
    runtime, env = engine_setup(
        tmp_path, database_url, runbooks_dir, _config(tmp_path / "warroom.yaml", slack)
    )
    yield runtime, env
    runtime.close()


def _api(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `warroom serve --no-engine` on a free port; return it and its URL once ready."""
    port = free_port()
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "warroom", "serve", "--no-engine", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=out, stderr=out,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"warroom serve did not start: {log.read_text()[-2000:]}")


def _webhook(group: int, index: int) -> dict[str, object]:
    """Alertmanager's webhook with one firing alert of a group."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": f'{{}}:{{alertname="Cpu{group}"}}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": f"Cpu{group}", "service": "checkout", "i": str(index)},
                "annotations": {"summary": f"CPU high on {group}"},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{group:08x}{index:08x}",
            }
        ],
    }


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_apis_and_two_engines_make_one_incident_per_group_and_page_once(
    setup: tuple[Runtime, dict[str, str]], slack: SlackServer, tmp_path: Path, database_url: str
) -> None:
    runtime, env = setup
    apis = [_api(env, tmp_path / f"serve-{i}.log") for i in (1, 2)]
    engines = [_engine(env, tmp_path / f"engine-{i}.log") for i in (1, 2)]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # Each group's alerts alternate between the two instances, sent by eight clients at once:
    # the first alerts of a group race on both instances to open it.
    jobs = [
        (apis[index % 2][1], group, index)
        for index in range(ALERTS_PER_GROUP)
        for group in range(GROUPS)
    ]
    try:
        with ThreadPoolExecutor(8) as pool:

            def send(job: tuple[str, int, int]) -> int:
                url, group, index = job
                answer = httpx.post(
                    f"{url}/api/v1/intake/alertmanager",
                    json=_webhook(group, index),
                    headers=headers,
                    timeout=30,
                    trust_env=False,
                )
                return answer.status_code

            statuses = Counter(pool.map(send, jobs))
        assert statuses == {200: GROUPS * ALERTS_PER_GROUP}, statuses
        _wait_for_pages(runtime, GROUPS * STEPS, timeout=120)
    finally:
        for process in engines:
            _stop(process)
        for process, _ in apis:
            _stop(process)

    with runtime.db.session() as session:
        incidents = session.scalar(select(func.count()).select_from(Incident))
        per_incident = Counter(
            session.scalars(select(TimelineEvent.incident_id).where(TimelineEvent.kind == "paged"))
        )
        alerts_per_incident = Counter(session.scalars(select(Alert.incident_id)))
        groups = session.scalar(select(func.count()).select_from(AlertGroup))
        owners = set(session.scalars(select(Notification.claimed_by).distinct()))
    assert incidents == GROUPS  # one incident per group, whichever instance saw it first
    assert set(per_incident.values()) == {STEPS}  # each incident's timeline has its pages
    assert groups == GROUPS
    assert len(alerts_per_incident) == GROUPS  # every alert joined its group's incident…
    assert set(alerts_per_incident.values()) == {ALERTS_PER_GROUP}  # …and none was lost
    received = Counter(k for k in slack.keys("chat.postMessage") if k and ":page:" in k)
    assert len(received) == GROUPS * STEPS and max(received.values()) == 1  # exactly once
    assert len(owners - {None}) == 2  # both engines took a share


def _wait_for_pages(runtime: Runtime, pages: int, timeout: float) -> None:
    """Wait until every escalation ran out and every page was sent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            active = session.scalar(
                select(func.count()).select_from(Escalation).where(Escalation.state == "active")
            )
            sent = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.key.contains(":page:"), Notification.status == "sent")
            )
        if not active and sent == pages:
            return
        time.sleep(0.2)
    raise AssertionError(f"not done: {active} escalations active, {sent} of {pages} pages sent")
