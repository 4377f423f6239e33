"""Rewriting several incidents' files at once (after an intake drain)."""

from __future__ import annotations

import pytest

from warroom.incidents.actor import Actor
from warroom.incidents.schemas import IncidentDetail
from warroom.runtime import Runtime

ACTOR = Actor(name="alice", source="api", role="admin")


def test_one_incident_failing_does_not_stop_the_others(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    first = runtime.flows.declare(actor=ACTOR, title="First", severity="SEV-3")
    second = runtime.flows.declare(actor=ACTOR, title="Second", severity="SEV-3")
    heard: list[tuple[str, int]] = []

    def listener(event: str, detail: IncidentDetail) -> None:
        if detail.number == first.number:
            raise RuntimeError("a listener failed")
        heard.append((event, detail.number))

    runtime.flows.listeners = [*(runtime.flows.listeners or []), listener]
    runtime.flows.refresh_many([(first.number, "alert"), (404, "alert"), (second.number, "alert")])
    assert heard == [("alert", second.number)]
    assert f"cannot refresh INC-{first.number}" in caplog.text
