"""An alert storm racing on two API instances over one PostgreSQL: one storm, one parent."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from tests.engine.processes import exactly_once, start_engine, stop
from tests.engine.test_several_instances import (
    STEPS,
    TOKEN,
    _api,
    _webhook,
    setup,  # noqa: F401  (a fixture)
    slack,  # noqa: F401  (a fixture)
)
from tests.notify.slack_server import SlackServer
from warroom.detection.models import Storm
from warroom.escalation.models import Escalation
from warroom.incidents.models import Incident
from warroom.notify.models import Notification
from warroom.runtime import Runtime

THRESHOLD = 5
GROUPS = 40


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_apis_start_one_storm_and_its_parent_pages_once(
    setup: tuple[Runtime, dict[str, str]],  # noqa: F811
    slack: SlackServer,  # noqa: F811
    tmp_path: Path,
    database_url: str,
) -> None:
    runtime, env = setup
    path = Path(env["WARROOM_CONFIG"])
    document = yaml.safe_load(path.read_text())
    document["detection"] = {"storm": {"threshold": THRESHOLD, "window": "10m"}}
    path.write_text(yaml.safe_dump(document))
    exactly_once(env)  # nothing is killed here: every message exactly once
    apis = [_api(env, tmp_path / f"serve-{i}.log") for i in (1, 2)]
    engine = start_engine(env, tmp_path / "engine.log")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # Every group's first alert, alternating between the instances, eight at a time.
    jobs = [(apis[group % 2][1], group) for group in range(GROUPS)]
    try:
        with ThreadPoolExecutor(8) as pool:

            def send(job: tuple[str, int]) -> int:
                url, group = job
                answer = httpx.post(
                    f"{url}/api/v1/intake/alertmanager",
                    json=_webhook(group, 0),
                    headers=headers,
                    timeout=30,
                    trust_env=False,
                )
                return answer.status_code

            statuses = Counter(pool.map(send, jobs))
        assert statuses == {200: GROUPS}, statuses
        _wait_for_parent_pages(runtime)
    finally:
        stop(engine)
        for process, _ in apis:
            stop(process)

    with runtime.db.session() as session:
        parents = list(session.scalars(select(Incident.number).where(Incident.source == "storm")))
        storms = session.execute(select(Storm.__table__)).all()
        members = Counter(session.scalars(select(Incident.parent_number)))
        total = session.scalar(select(func.count()).select_from(Incident))
    assert len(parents) == 1 and len(storms) == 1  # one storm, whichever instance started it
    assert storms[0].parent_number == parents[0] and storms[0].is_open
    assert total == GROUPS + 1
    # The first THRESHOLD paged alone until the storm began; then they joined it like the rest.
    assert members == {parents[0]: GROUPS, None: 1}
    assert storms[0].members == GROUPS
    received = Counter(k for k in slack.keys("chat.postMessage") if k and ":page:" in k)
    assert max(received.values()) == 1  # nothing twice
    parent_pages = [k for k in received if k.startswith(f"inc{parents[0]}:")]
    assert len(parent_pages) == STEPS
    assert len(received) <= STEPS + THRESHOLD  # at most the first THRESHOLD paged alone


def _wait_for_parent_pages(runtime: Runtime, timeout: float = 120) -> None:
    """Wait until nothing escalates and the parent's pages are sent (the first incidents may
    have paged alone before the storm began)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            active = session.scalar(
                select(func.count()).select_from(Escalation).where(Escalation.state == "active")
            )
            parent = session.scalar(select(Incident.number).where(Incident.source == "storm"))
            sent = session.scalar(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.key.startswith(f"inc{parent}:page:"),
                    Notification.status == "sent",
                )
            )
        if parent is not None and not active and sent == STEPS:
            return
        time.sleep(0.2)
    raise AssertionError(f"not done: {active} escalations active, {sent} parent pages sent")
