"""Roles are decided in the service layer too: a route that forgot its check still cannot let
a viewer change an incident."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import SKIP
from warroom.core.errors import Forbidden
from warroom.incidents.actor import Access, Actor
from warroom.runtime import Runtime

VIEWER = Actor(name="vic", source="api", role="viewer", teams=frozenset({"security"}))
RESPONDER = Actor(name="rita", source="api", role="responder")

ACTS: dict[str, Callable[[Runtime], Any]] = {
    "declare": lambda r: r.flows.declare(actor=VIEWER, title="x"),
    "update": lambda r: r.flows.update("1", actor=VIEWER, changes={"severity": "SEV-1"}),
    "acknowledge": lambda r: r.flows.acknowledge("1", actor=VIEWER),
    "transition": lambda r: r.flows.transition(
        "1", "resolve", actor=VIEWER, skip_verification=SKIP
    ),
    "note": lambda r: r.flows.note("1", actor=VIEWER, text="hello"),
    "postmortem": lambda r: r.postmortems.save("1", actor=VIEWER, values={"summary": "x"}),
    "role": lambda r: r.triage.change_role("1", actor=VIEWER, role="scribe", person="vic"),
}


@pytest.mark.parametrize("act", sorted(ACTS))
def test_a_viewer_actor_is_refused_by_the_service_and_nothing_is_written(
    runtime: Runtime, act: str
) -> None:
    runtime.flows.declare(actor=RESPONDER, title="Checkout down")
    before = runtime.flows.get("1")
    with pytest.raises(Forbidden) as refused:
        ACTS[act](runtime)
    assert "vic is a viewer" in refused.value.message
    assert refused.value.details == {"role": "viewer", "required": "responder"}
    after = runtime.flows.get("1")
    assert (len(after.timeline), after.status, after.severity) == (
        len(before.timeline),
        before.status,
        before.severity,
    )


def test_an_actor_carries_one_access_value() -> None:
    assert VIEWER.access == Access(user="vic", role="viewer", teams=frozenset({"security"}))
    assert Actor(name="alertmanager/default", source="alertmanager").access is None
    # System actors (intake, engine) act for warroom itself: no role, no refusal.
    Actor(name="warroom/verification", source="engine").require("admin", "anything")
