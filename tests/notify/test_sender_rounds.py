"""The sender's rounds: sized from the pace of the sends, pipelined, and within the lease."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.helpers import Fakes, paging_config
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.notify import outbox
from warroom.notify.fakes import FakeChat
from warroom.notify.messages import Post
from warroom.notify.models import Notification
from warroom.notify.outbox import Message
from warroom.notify.ports import IncidentCard
from warroom.notify.sender import LEASE_MARGIN, Sender
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """Two posts a minute per #channel; a claim's lease is the default 60 s."""
    return paging_config()


class _TimedChat(FakeChat):
    """Each post takes `seconds` of the frozen clock; remembers when each began and ended."""

    def __init__(self, clock: FrozenClock, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds
        self.spans: dict[str, tuple[datetime, datetime]] = {}

    def post(self, *, channel: str, text: str, key: str, card: IncidentCard | None = None) -> str:
        began = self.clock.now()
        answer = super().post(channel=channel, text=text, key=key, card=card)
        self.clock.advance(timedelta(seconds=self.seconds))
        self.spans[key] = (began, self.clock.now())
        return answer


def _queue(runtime: Runtime, count: int, destination: str | None = None) -> list[str]:
    keys = [f"k{i}" for i in range(count)]
    with runtime.db.transaction() as session:
        outbox.enqueue(
            session,
            [Message(k, destination or f"C{i}", Post(text=k)) for i, k in enumerate(keys)],
            now=runtime.clock.now(),
            retry=runtime.config().notifications.retry,
        )
    return keys


def _sender(runtime: Runtime, chat: FakeChat, **options: float) -> Sender:
    runtime.adapters_override = Fakes(chat).adapters
    return Sender(
        db=runtime.db,
        config=runtime.config,
        adapters=runtime.adapters,
        now=runtime.clock.now,
        owner="engine-a",
        **options,  # type: ignore[arg-type]
    )


def test_a_round_shrinks_when_sends_slow_down_and_grows_back(
    runtime: Runtime, clock: FrozenClock
) -> None:
    keys = _queue(runtime, 20)
    chat = _TimedChat(clock, seconds=0.5)
    # One worker, one round a call, and 1 s of sends a round at the pace measured.
    sender = _sender(runtime, chat, workers=1, keep_sending=0.0, round_budget=1.0)
    try:
        assert sender.send_due() == 8  # the starting size
        assert sender.send_due() == 2  # 0.5 s a send: two fit in the round's second
        chat.seconds = 0.0
        assert sender.send_due() == 2  # sized before it: by the slow round
        assert sender.send_due() == 4  # fast again: twice as many a round
        assert sender.send_due() == 4  # (all that is left)
    finally:
        sender.close()
    assert sorted(chat.keys()) == sorted(keys)


def test_a_round_starts_no_send_that_would_end_after_its_lease(
    runtime: Runtime, clock: FrozenClock
) -> None:
    keys = _queue(runtime, 5)
    chat = _TimedChat(clock, seconds=20)  # a vendor at its timeout
    sender = _sender(runtime, chat, workers=1, keep_sending=0.0)
    claimed_at = clock.now()
    lease_ends = claimed_at + runtime.config().notifications.claim_lease
    try:
        sender.send_due()
        # k0 took 20 s, so k1 (started at 20 s) was expected to end at 40 s: sent. k2 would
        # have ended at 60 s, when another sender may take the lease over: left unsent.
        assert chat.keys() == ["k0", "k1"]
        assert all(end <= lease_ends - LEASE_MARGIN for _, end in chat.spans.values())
        for _ in range(5):
            sender.send_due()
    finally:
        sender.close()
    assert sorted(chat.keys()) == keys  # the rest in later rounds, each once


def test_the_next_claim_counts_the_round_in_flight_against_rate_limits(
    runtime: Runtime, clock: FrozenClock
) -> None:
    _queue(runtime, 6, destination="#room")  # rate_limits.channel: 2 a minute
    chat = FakeChat()
    # Rounds of two on two workers: the second round is claimed while the first is sent,
    # before its sends are recorded.
    sender = _sender(runtime, chat, workers=2, batch_per_worker=1, most_per_worker=1)
    try:
        assert sender.send_due() == 2
        assert len(chat.keys()) == 2
        clock.advance(timedelta(seconds=61))
        assert sender.send_due() == 2
    finally:
        sender.close()
    assert len(chat.keys()) == 4


def test_a_sender_asked_to_stop_claims_and_sends_nothing(
    runtime: Runtime, clock: FrozenClock
) -> None:
    # The engine's send loop may decide to send just before its stop and the sender's close
    # run; its own stop flag, passed in, keeps that late call from starting a round.
    keys = _queue(runtime, 5)
    chat = _TimedChat(clock, seconds=0.0)
    sender = _sender(runtime, chat, workers=1, keep_sending=0.0)
    try:
        assert sender.send_due(stopping=lambda: True) == 0
        assert chat.spans == {}
        with runtime.db.session() as session:
            statuses = set(session.scalars(select(Notification.status)))
        assert statuses == {"pending"}  # nothing claimed either
        assert sender.send_due() == len(keys)  # not stopping: all of them
        assert sorted(chat.spans) == sorted(keys)
    finally:
        sender.close()
