"""The outbox sender: rate limits per batch, leases, and pages cancelled by an acknowledgement."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.notify import outbox
from warroom.notify.fakes import FakeChat, FakeStatusPage
from warroom.notify.messages import IssueCreate, Post, StatusUpsert
from warroom.notify.models import Notification
from warroom.notify.outbox import Message
from warroom.notify.ports import DeliveryError, IncidentCard
from warroom.notify.sender import Sender, SentHook
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return paging_config()


def test_channel_rate_limit_holds_within_one_batch(runtime: Runtime, fakes: Fakes) -> None:
    for title in ("one", "two", "three", "four", "five"):
        runtime.flows.declare(actor=ACTOR, title=title, severity="SEV-3", service="checkout")
    runtime.engine.run_once()
    announced = [a for m, a in fakes.chat.calls if a.get("channel") == "#incident-response"]
    assert len(announced) <= 2  # rate_limits.channel: 2 per minute


class _SlowChat(FakeChat):
    """Each post takes 61 s of the frozen clock (a Slack timeout plus retries, say)."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock
        self.during_first: Any = None

    def post(self, *, channel: str, text: str, key: str, card: IncidentCard | None = None) -> str:
        answer = super().post(channel=channel, text=text, key=key, card=card)
        self.clock.advance(timedelta(seconds=61))
        hook, self.during_first = self.during_first, None
        if hook is not None:
            hook()
        return answer


def test_a_lease_that_ran_out_is_not_sent_by_its_old_owner(
    runtime: Runtime, clock: FrozenClock
) -> None:
    chat = _SlowChat(clock)
    fakes = Fakes(chat)
    runtime.adapters_override = fakes.adapters
    with runtime.db.transaction() as session:
        outbox.enqueue(
            session,
            [Message(f"k{i}", f"#room-{i}", Post(text=f"m{i}")) for i in range(3)],
            now=clock.now(),
            retry=runtime.config().notifications.retry,
        )

    def sender(owner: str) -> Sender:
        return Sender(
            db=runtime.db,
            config=runtime.config,
            adapters=runtime.adapters,
            now=clock.now,
            owner=owner,
            workers=1,
            keep_sending=0.0,  # one round a call: B's runs between A's sends are one each
        )

    first, second = sender("engine-a"), sender("engine-b")
    chat.during_first = second.send_due  # engine B runs while A is stuck in its first send
    first.send_due()
    # A's lease ran out during its first (61 s) send: it sends nothing more of that claim.
    assert chat.keys() == ["k0", "k0"]  # the one in flight went twice, under one key
    while second.send_due() or first.send_due():
        pass
    assert sorted(chat.keys()) == ["k0", "k0", "k1", "k2"]


def test_a_retrying_page_is_dropped_once_the_incident_is_acknowledged(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    fakes.chat.fail_with = DeliveryError("slack is down")
    incident = runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    runtime.flows.acknowledge(str(incident.number), actor=Actor(name="alice", source="api"))
    fakes.chat.fail_with = None
    clock.advance(timedelta(minutes=11))
    for _ in range(3):
        runtime.engine.run_once()
    assert not fakes.dms("UALICE1"), "alice was paged for an incident already acknowledged"


def test_a_failing_after_send_hook_keeps_the_send_recorded(
    runtime: Runtime, clock: FrozenClock, fakes: Fakes
) -> None:
    with runtime.db.transaction() as session:
        outbox.enqueue(
            session,
            [Message(f"hook{i}", f"#room-{i}", Post(text=f"m{i}")) for i in range(2)],
            now=clock.now(),
            retry=runtime.config().notifications.retry,
        )
    heard: list[str] = []

    def broken(session: Any, sent: Any, provider_id: Any, now: Any, config: Any) -> None:
        row = Notification(key="half-written", channel="chat", action="post", destination="#x")
        row.payload, row.created_at, row.due_at, row.next_attempt_at = {"text": "x"}, now, now, now
        session.add(row)
        session.flush()
        raise RuntimeError("a phase's hook broke")

    def listening(session: Any, sent: Any, provider_id: Any, now: Any, config: Any) -> None:
        heard.append(sent.text)

    def other_kinds(session: Any, sent: Any, provider_id: Any, now: Any, config: Any) -> None:
        heard.append("a hook for issues heard of a post")

    sender = Sender(
        db=runtime.db,
        config=runtime.config,
        adapters=runtime.adapters,
        now=clock.now,
        owner="engine-a",
        workers=1,
        after_sent=[
            SentHook((Post,), broken),
            SentHook((Post,), listening),
            SentHook((IssueCreate,), other_kinds),
        ],
    )
    try:
        assert sender.send_due() == 2
    finally:
        sender.close()
    assert sorted(heard) == ["m0", "m1"]  # the next hook still ran; not the one for issues
    with runtime.db.session() as session:
        rows = {n.key: n.status for n in session.scalars(select(Notification))}
    assert rows == {"hook0": "sent", "hook1": "sent"}  # recorded; the broken hook wrote nothing


def test_a_status_upsert_is_named_by_its_public_title(runtime: Runtime, fakes: Fakes) -> None:
    card = IncidentCard(
        number=42,
        title="HighCPUUsage on 10.0.0.7:9100",  # internal
        severity="SEV-2",
        severity_name="High",
        status="detected",
        service="checkout",
        commander=None,
        url=None,
        detected_at=runtime.clock.now(),
    )
    new = StatusUpsert(card=card, title="Checkout is slow", status="identified", body="b")
    # A row queued before public titles existed: its incident's public updates showed the
    # incident's title (migration 0010 kept that as their public title), so it still does.
    old = StatusUpsert(card=card, status="identified", body="b")
    with runtime.db.transaction() as session:
        outbox.enqueue(
            session,
            [Message("new", "INC-42", new), Message("old", "INC-42", old)],
            now=runtime.clock.now(),
            retry=runtime.config().notifications.retry,
        )
    runtime.engine.run_once()
    status_page = fakes.adapters.status_page
    assert isinstance(status_page, FakeStatusPage)
    names = {args["key"]: args["name"] for _, args in status_page.calls}
    assert names == {
        "new": "Checkout is slow (INC-42)",
        "old": "HighCPUUsage on 10.0.0.7:9100 (INC-42)",
    }
