"""The notification planner: what each incident event sends, to whom, and what it does not."""

from __future__ import annotations

import pytest

from tests.helpers import SKIP, Fakes, paging_config, statuses
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")


@pytest.fixture
def config() -> WarroomConfig:
    """One service paging alice, then bob; PagerDuty on; two posts a minute per channel."""
    return paging_config()


def test_resolve_after_reopen_reaches_pagerduty(runtime: Runtime, fakes: Fakes) -> None:
    incident = runtime.flows.declare(
        actor=ACTOR, title="Checkout down", severity="SEV-1", service="checkout"
    )
    ref = str(incident.number)
    runtime.engine.run_once()
    runtime.flows.transition(ref, "resolve", actor=ACTOR, skip_verification=SKIP)
    runtime.engine.run_once()
    runtime.flows.transition(ref, "reopen", actor=ACTOR)
    runtime.engine.run_once()
    runtime.flows.transition(ref, "resolve", actor=ACTOR, skip_verification=SKIP)
    runtime.engine.run_once()
    actions = [a["action"] for _, a in fakes.pager.calls]
    assert actions == ["trigger", "resolve", "trigger", "resolve"]


def test_updates_without_incident_channels_do_not_die(
    runtime: Runtime, fakes: Fakes, config: WarroomConfig
) -> None:
    config.notifications.incident_channels = False
    incident = runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    runtime.flows.acknowledge(str(incident.number), actor=ACTOR)
    runtime.engine.run_once()
    dead = [key for key, status in statuses(runtime).items() if status == "dead"]
    assert dead == []
    kinds = [e.kind for e in runtime.flows.get(str(incident.number)).timeline]
    assert "notification_failed" not in kinds


def test_lowering_severity_does_not_mail_executives_again(
    runtime: Runtime, fakes: Fakes, config: WarroomConfig
) -> None:
    config.notifications.executives = ["cto@example.com"]
    incident = runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-1", service="checkout")
    runtime.engine.run_once()
    runtime.flows.update(str(incident.number), actor=ACTOR, changes={"severity": "SEV-2"})
    runtime.engine.run_once()
    executive = [a for _, a in fakes.mail.calls if a["to"] == ["cto@example.com"]]
    assert len(executive) == 1


def test_a_restricted_incident_leaves_warroom_under_its_codename(
    runtime: Runtime, fakes: Fakes
) -> None:
    secret = "Card numbers copied by an intruder"
    runtime.flows.declare(
        actor=ACTOR, title=secret, severity="SEV-1", service="checkout", incident_type="security"
    )
    runtime.engine.run_once()
    (trigger,) = [a for _, a in fakes.pager.calls]
    assert trigger["summary"].startswith("INC-1 (restricted)")
    (room,) = [a for m, a in fakes.chat.calls if m == "create_channel"]
    assert (room["name"], room["private"]) == ("inc-1", True)
    assert "intruder" not in repr(fakes.pager.calls) + repr(room)
    # Inside the private channel, whose members may see it, the card keeps its title.
    cards = [a["card"] for m, a in fakes.chat.calls if m == "post" and a.get("card")]
    assert cards and all(card.title == secret for card in cards)
