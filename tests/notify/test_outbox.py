"""The outbox: enqueueing many messages at once."""

from __future__ import annotations

import pytest

from tests.helpers import paging_config
from warroom.config import WarroomConfig
from warroom.notify import outbox
from warroom.notify.outbox import Message
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return paging_config()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite always counts
def test_enqueue_counts_the_rows_it_wrote_on_postgresql(runtime: Runtime) -> None:
    messages = [
        Message(f"inc{i}:page:0:0:p:chat", "chat", "page", f"person:p{i % 3}", {"text": "x"})
        for i in range(1500)
    ]
    with runtime.db.transaction() as session:
        count = outbox.enqueue(
            session, messages, now=runtime.clock.now(), retry=runtime.config().notifications.retry
        )
    assert count == 1500
