"""Several instances on one PostgreSQL: two `warroom serve --no-engine`, two `warroom engine`.

Alerts of the same groups arrive at both API instances at once; the incidents escalate on
both engines. No group may become two incidents, every page must go out exactly once, and
each incident's timeline must hold what happened to it (issue 17, item 1).

CI runs 40 groups of 8 alerts. `WARROOM_FULL_SCALE=1` runs the issue's size, 10,000 alerts
in 1,000 groups (`python -m bench.scale` runs it so and records the figures); with
`WARROOM_SCALE_RESULTS=FILE` the test writes its counts and timings there as JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from tests.conftest import free_port
from tests.engine.processes import exactly_once, slack_settings, start_engine
from tests.engine.processes import stop as _stop
from tests.engine.test_engine_processes import engine_setup
from tests.notify.slack_server import SlackServer
from warroom.detection.models import Alert, AlertGroup
from warroom.escalation.models import Escalation
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify.models import Notification
from warroom.runtime import Runtime

TOKEN = "several-instances-token-0123"
STEPS = 2  # pages per incident: two steps, two seconds apart
CLIENTS = 8  # webhooks in flight at once
STEPS_TAKEN = re.compile(r"^warroom_escalation_steps_total (\S+)$", re.MULTILINE)


def _size() -> tuple[int, int]:
    """Return (groups, alerts per group): CI's size, or the issue's with WARROOM_FULL_SCALE=1."""
    return (1000, 10) if os.environ.get("WARROOM_FULL_SCALE") == "1" else (40, 8)


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
                    "slack": slack_settings(slack),
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


def _engine(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start `warroom engine` with its metrics port, once it ticks; return it and that URL."""
    port = free_port()
    return start_engine(env, log, port=port), f"http://127.0.0.1:{port}"


def _steps_taken(url: str) -> int:
    """Return how many due escalation steps the engine at `url` took (its own counter)."""
    body = httpx.get(f"{url}/metrics", timeout=10, trust_env=False).text
    found = STEPS_TAKEN.search(body)
    return int(float(found.group(1))) if found else 0


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
    groups, per_group = _size()
    started = time.monotonic()
    exactly_once(env)  # nothing is killed here: every message exactly once
    apis = [_api(env, tmp_path / f"serve-{i}.log") for i in (1, 2)]
    engines = [_engine(env, tmp_path / f"engine-{i}.log") for i in (1, 2)]
    # Each group's alerts alternate between the two instances, sent by eight clients at once:
    # the first alerts of a group race on both instances to open it.
    jobs = [
        (apis[index % 2][1], group, index) for index in range(per_group) for group in range(groups)
    ]
    local = threading.local()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:

            def send(job: tuple[str, int, int]) -> int:
                url, group, index = job
                if not hasattr(local, "clients"):  # one kept-alive client per thread and API
                    local.clients = {}
                if url not in local.clients:
                    local.clients[url] = httpx.Client(
                        base_url=url,
                        headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=60,
                        trust_env=False,
                    )
                answer = local.clients[url].post(
                    "/api/v1/intake/alertmanager", json=_webhook(group, index)
                )
                return answer.status_code

            sending = time.monotonic()
            statuses = Counter(pool.map(send, jobs))
            sent_in = time.monotonic() - sending
        assert statuses == {200: groups * per_group}, statuses
        _wait_for_pages(runtime, groups * STEPS, timeout=120 + groups * 0.2)
        steps = [_steps_taken(url) for _, url in engines]
    finally:
        for process, _ in engines:
            _stop(process)
        for process, _ in apis:
            _stop(process)

    with runtime.db.session() as session:
        incidents = session.execute(select(Incident.id, Incident.number, Incident.status)).all()
        paged = session.execute(
            select(TimelineEvent.incident_id, TimelineEvent.data).where(
                TimelineEvent.kind == "paged"
            )
        ).all()
        alert_events = session.execute(
            select(TimelineEvent.incident_id, TimelineEvent.data).where(
                TimelineEvent.kind == "alert"
            )
        ).all()
        alerts = session.execute(select(Alert.id, Alert.incident_id)).all()
        groups_stored = session.scalar(select(func.count()).select_from(AlertGroup))
        pages = session.execute(
            select(Notification.incident_id, Notification.key, Notification.claimed_by).where(
                Notification.key.contains(":page:")
            )
        ).all()
        escalations = Counter(session.scalars(select(Escalation.state)))
    assert len(incidents) == groups  # one incident per group, whichever instance saw it first
    assert groups_stored == groups
    assert {status for _, _, status in incidents} == {"detected"}  # nobody acknowledged
    assert escalations == {"exhausted": groups}, escalations
    # Every alert joined its group's incident, none was lost, and each incident's timeline
    # names exactly its own alerts (one event each: fewer than the summarising threshold).
    alerts_of: dict[int, set[int]] = defaultdict(set)
    for alert_id, incident_id in alerts:
        alerts_of[incident_id].add(alert_id)
    assert len(alerts) == groups * per_group
    assert {len(ids) for ids in alerts_of.values()} == {per_group}
    events_of: dict[int, list[int]] = defaultdict(list)
    for incident_id, data in alert_events:
        events_of[incident_id].append(data["alert_id"])
    assert {i: set(ids) for i, ids in events_of.items()} == alerts_of
    assert {len(ids) for ids in events_of.values()} == {per_group}
    # Each incident's timeline has each step paged once, and the outbox the same pages.
    steps_paged = defaultdict(list)
    for incident_id, data in paged:
        steps_paged[incident_id].append(data["step"])
    assert {tuple(sorted(s)) for s in steps_paged.values()} == {tuple(range(STEPS))}
    assert len(steps_paged) == groups
    number_of = {id_: number for id_, number, _ in incidents}
    expected = {
        f"inc{number_of[i]}:page:0:{step}:#pages" for i, s in steps_paged.items() for step in s
    }
    assert {key for _, key, _ in pages} == expected
    received = Counter(k for k in slack.keys("chat.postMessage") if k and ":page:" in k)
    assert set(received) == expected and max(received.values()) == 1  # exactly once
    assert sum(steps) >= groups * STEPS, steps
    # Both engines took work: due steps (SKIP LOCKED) or pages to send (claims), or both.
    senders = Counter(owner.rsplit(":", 1)[1] for _, _, owner in pages if owner)
    sent = [senders[str(process.pid)] for process, _ in engines]
    assert all(took or sends for took, sends in zip(steps, sent, strict=True)), (steps, sent)
    if results := os.environ.get("WARROOM_SCALE_RESULTS"):
        Path(results).write_text(
            json.dumps(
                {
                    "groups": groups,
                    "alerts": groups * per_group,
                    "incidents": len(incidents),
                    "pages": len(received),
                    "repeats": sum(received.values()) - len(received),
                    "alerts_seconds": round(sent_in, 1),
                    "total_seconds": round(time.monotonic() - started, 1),
                    "steps_per_engine": steps,
                    "pages_sent_per_engine": sent,
                }
            )
        )


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
