"""A step whose people are on call but beyond reach says who they were and why, not "nobody"."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.notify.fakes import FakeMailer
from warroom.notify.ports import Adapters
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")
PEOPLE = [
    {"id": "lena", "name": "Lena", "email": "lena@example.com", "slack": "ULENA1"},
    {"id": "priya", "name": "Priya"},  # neither a Slack id nor an e-mail address
]
SCHEDULE = {
    "id": "payments",
    "timezone": "UTC",
    "layers": [
        {"name": "primary", "rotation": {"every": "1w", "participants": ["lena"]}},
        {"name": "secondary", "rotation": {"every": "1w", "participants": ["priya"]}},
    ],
}


@pytest.fixture
def config() -> WarroomConfig:
    """Two people on call, a team without leads, the built-in policy and no integrations."""
    return WarroomConfig.model_validate(
        {
            "people": PEOPLE,
            "teams": [{"id": "payments", "members": ["lena", "priya"], "leads": []}],
            "schedules": [SCHEDULE],
            "services": [
                {"id": "checkout", "team": "payments", "schedule": "payments"},
                {"id": "search", "team": "payments", "escalation": "both"},
                {"id": "shop", "escalation": "room"},
            ],
            "escalation_policies": [
                {"id": "both", "steps": [{"notify": ["person:lena", "person:priya"]}]},
                {"id": "room", "steps": [{"notify": ["person:lena", "channel:#shop"]}]},
            ],
        }
    )


def events(runtime: Runtime, kind: str) -> list[Any]:
    """Return the timeline events of one kind of incident 1."""
    return [e for e in runtime.flows.get("1").timeline if e.kind == kind]


def test_on_call_but_no_notify_integration_is_not_nobody_on_call(runtime: Runtime) -> None:
    assert runtime.channels() == set()  # nothing configured to send a page with
    runtime.flows.declare(actor=ACTOR, title="Checkout down", severity="SEV-1", service="checkout")
    runtime.engine.run_once()
    [skipped] = events(runtime, "escalation_skipped")
    assert skipped.text == (
        "Step 1: lena was on call but no channel can reach them (no Slack/e-mail configured); "
        "step 2: priya was on call but no channel can reach them (no Slack/e-mail configured); "
        "step 3: nobody on call: moved on at once"
    )
    assert skipped.data["steps"] == [0, 1, 2]
    assert skipped.data["unreachable"] == [
        {"step": 0, "people": {"lena": "no Slack/e-mail configured"}, "channels": []},
        {"step": 1, "people": {"priya": "no Slack/e-mail configured"}, "channels": []},
    ]
    assert events(runtime, "paged") == []  # nobody was paged, and no event says so


def test_a_step_that_reaches_some_names_the_others(runtime: Runtime, fakes: Fakes) -> None:
    runtime.flows.declare(actor=ACTOR, title="Search down", severity="SEV-1", service="search")
    runtime.engine.run_once()
    [paged] = events(runtime, "paged")
    assert paged.text == (
        "Paged lena (step 1 of 1); priya was on call but no channel can reach them "
        "(they have no Slack id or e-mail address under people:)"
    )
    assert (paged.data["people"], paged.data["unreachable"]) == (["lena"], ["priya"])
    assert events(runtime, "escalation_skipped") == []
    assert fakes.dms("ULENA1")  # lena's page went out; priya had nowhere to receive one
    assert [a["to"] for _, a in fakes.mail.calls if "paged" in a["subject"]] == [
        ["lena@example.com"]
    ]


def test_e_mail_alone_reaches_lena_but_posts_nowhere(runtime: Runtime) -> None:
    mail = FakeMailer()
    runtime.adapters_override = Adapters(mailer=mail)  # SMTP set up, Slack not
    runtime.flows.declare(actor=ACTOR, title="Shop down", severity="SEV-1", service="shop")
    runtime.engine.run_once()
    [paged] = events(runtime, "paged")
    assert paged.text == (
        "Paged lena (step 1 of 1); #shop cannot be posted to (no Slack configured)"
    )
    assert (paged.data["people"], paged.data["channels"]) == (["lena"], [])
    assert [a["to"] for _, a in mail.calls if "paged" in a["subject"]] == [["lena@example.com"]]
