"""Slack down for two minutes: declaring still works; everything arrives after, in order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.notify.slack_server import SlackServer
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.notify.fakes import FakeMailer
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters
from warroom.notify.slack import SlackChat
from warroom.notify.slack_config import SlackConfig
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")
OUTAGE = timedelta(minutes=2)


@pytest.fixture
def config() -> WarroomConfig:
    """One on-call person with a Slack id; every incident announced in #incident-response."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "alice", "name": "Alice", "slack": "UALICE1"}],
            "teams": [{"id": "payments", "members": ["alice"], "leads": ["alice"]}],
            "schedules": [
                {
                    "id": "payments",
                    "timezone": "UTC",
                    "layers": [
                        {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}}
                    ],
                }
            ],
            "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
            "notifications": {"announce_channel": "#incident-response"},
        }
    )


@pytest.fixture
def slack(runtime: Runtime, clock: FrozenClock) -> Iterator[SlackServer]:
    """The Slack fake on loopback, on the test's clock, wired as the runtime's chat adapter."""
    with SlackServer(clock=lambda: clock.now().timestamp()) as server:
        server.add_channel("incident-response")
        chat = SlackChat(
            SlackConfig(
                signing_secret="x" * 32, bot_token=server.token, base_url=server.url, timeout=0.3
            )
        )
        runtime.adapters_override = Adapters(chat=chat, mailer=FakeMailer())
        runtime.engine.sender.workers = 4
        yield server
        chat.close()


def _run_through(runtime: Runtime, clock: FrozenClock, span: timedelta) -> None:
    """Run the engine every 5 s of the test's clock for `span`."""
    end = clock.now() + span
    while clock.now() < end:
        runtime.engine.run_once()
        clock.advance(timedelta(seconds=5))


def _chat_rows(runtime: Runtime) -> list[Notification]:
    with runtime.db.session() as session:
        rows = list(
            session.scalars(
                select(Notification).where(Notification.channel == "chat").order_by(Notification.id)
            )
        )
        session.expunge_all()  # keep the loaded values readable after the session ends
        return rows


@pytest.mark.parametrize("fault", ["http500", "timeout"])
def test_slack_outage_then_recovery(
    runtime: Runtime, clock: FrozenClock, slack: SlackServer, fault: str
) -> None:
    if fault == "http500":
        slack.fail(status=500, seconds=OUTAGE.total_seconds())
    else:
        slack.hang(seconds=OUTAGE.total_seconds(), sleep=1.0)
    numbers = []
    for index in range(3):  # incidents declared and changed while Slack is down
        incident = runtime.flows.declare(
            actor=ACTOR, title=f"Checkout down {index}", severity="SEV-2", service="checkout"
        )
        numbers.append(incident.number)
        runtime.engine.run_once()
        if index < 2:  # the last one stays unacknowledged: its page must get through
            runtime.flows.acknowledge(str(incident.number), actor=ACTOR)
        runtime.flows.note(str(incident.number), text=f"looking at node {index}", actor=ACTOR)
        _run_through(runtime, clock, timedelta(seconds=30))
    during = _chat_rows(runtime)
    assert during and all(r.status in ("pending", "failed", "cancelled") for r in during), [
        (r.key, r.status) for r in during
    ]
    # Pages to an incident acknowledged meanwhile are dropped, not delivered late.
    cancelled = {r.key for r in during if r.status == "cancelled"}
    assert cancelled == {f"inc{n}:page:0:0:alice:chat" for n in numbers[:2]}
    assert max(r.attempts for r in during) >= 2  # retried while down
    _run_through(runtime, clock, OUTAGE + timedelta(minutes=10))
    rows = _chat_rows(runtime)
    assert {r.status for r in rows if r.key not in cancelled} == {"sent"}, "\n".join(
        f"{r.key} {r.status} {r.attempts} {r.next_attempt_at} {r.last_error}" for r in rows
    )
    # Every incident: announced, its channel opened, card first, then its updates in order.
    announced = [m["text"] for m in slack.messages("#incident-response")]
    for number in numbers:
        assert any(text.startswith(f"INC-{number} declared") for text in announced)
        detail = runtime.flows.get(str(number))
        channel = detail.links["chat_channel_id"]
        texts = [m["text"] for m in slack.messages(channel)]
        expected = [
            r.payload["text"]
            for r in rows
            if r.incident_id
            and r.destination == "@incident"
            and r.action == "post"
            and r.key.startswith(f"inc{number}:")
        ]
        assert texts[: len(expected)] == expected
        # The room's first post is the title (then any related incidents, on lines of their own).
        assert texts[0].splitlines()[0] == f"Checkout down {numbers.index(number)}"
        if number in numbers[:2]:
            assert any(t.startswith("Acknowledged") for t in texts), texts
    # Only the unacknowledged incident's pages reached alice, each once whatever the retries.
    keys = [k for k in slack.keys("chat.postMessage") if k and ":page:" in k]
    assert keys[0] == f"inc{numbers[2]}:page:0:0:alice:chat"
    assert len(keys) == len(set(keys))
    assert all(k.startswith(f"inc{numbers[2]}:") for k in keys)
