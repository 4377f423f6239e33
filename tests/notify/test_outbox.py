"""The outbox: enqueueing many messages at once."""

from __future__ import annotations

import pytest

from tests.helpers import paging_config
from warroom.config import WarroomConfig
from warroom.notify import outbox
from warroom.notify.messages import ChatPage
from warroom.notify.outbox import Message
from warroom.notify.ports import IncidentCard
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return paging_config()


CARD = IncidentCard(number=1, title="t", severity="SEV-1", severity_name="SEV-1", status="detected")
PAGE = ChatPage(card=CARD, text="x", address="U1")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite always counts
def test_enqueue_counts_the_rows_it_wrote_on_postgresql(runtime: Runtime) -> None:
    messages = [
        Message(
            f"inc{i}:page:0:0:p:chat",
            f"person:p{i % 3}",
            ChatPage(card=CARD, text="x", address="U1"),
        )
        for i in range(1500)
    ]
    with runtime.db.transaction() as session:
        count = outbox.enqueue(
            session, messages, now=runtime.clock.now(), retry=runtime.config().notifications.retry
        )
    assert count == 1500
