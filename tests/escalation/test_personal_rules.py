"""Personal notification rules with recording fakes: steps, defaults, failures, acknowledgement."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import Fakes
from tests.web.test_pages import PASSWORD, add_user
from warroom.app import create_app
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.models import ContactMethod, PageRun
from warroom.incidents.actor import Actor
from warroom.notify.models import Notification
from warroom.notify.ports import DeliveryError
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")
PHONE = "+4915112345678"

CONFIG: dict[str, Any] = {
    "people": [
        {
            "id": "alice",
            "name": "Alice",
            "slack": "UALICE1",
            "email": "alice@example.com",
            "phone": PHONE,
            "contact_methods": [{"id": "phone-push", "type": "push", "to": "ntfys://n.test/a"}],
            "notification_rules": [
                {"after": "0m", "via": ["chat", "phone-push"]},
                {"after": "2m", "via": ["sms"]},
                {"after": "5m", "via": ["voice"]},
            ],
        },
        {"id": "bob", "name": "Bob", "slack": "UBOB1", "phone": "+4915187654321"},
    ],
    "schedules": [
        {
            "id": "payments",
            "timezone": "UTC",
            "layers": [
                {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}},
                {"name": "secondary", "rotation": {"every": "1w", "participants": ["bob"]}},
            ],
        }
    ],
    "services": [{"id": "checkout", "schedule": "payments"}],
    "escalation_policies": [
        {
            "id": "default",
            "steps": [
                {"after": "0m", "notify": ["schedule:@service/primary"]},
                {"after": "30m", "notify": ["schedule:@service/secondary"]},
            ],
        }
    ],
    "notifications": {
        "default_policy": "default",
        "base_url": "https://warroom.example.com",
        "rate_limits": {"person": {"count": 50, "per": "1m"}},
        # Bob has no rules of his own: SEV-1's defaults page him by SMS, then call him.
        "rules": {
            "SEV-1": [{"after": "0m", "via": ["sms"]}, {"after": "1m", "via": ["voice"]}],
            "default": [{"after": "0m", "via": ["chat"]}],
        },
    },
}


@pytest.fixture
def config() -> WarroomConfig:
    """Alice with rules of her own; Bob on the severity's defaults."""
    return WarroomConfig.model_validate(CONFIG)


@pytest.fixture
def fakes(runtime: Runtime) -> Fakes:
    """Every adapter recording, SMS, calls and push included."""
    recorded = Fakes(phone=True)
    runtime.adapters_override = recorded.adapters
    runtime.engine.sender.workers = 1
    return recorded


def calls(fakes: Fakes, method: str) -> list[dict[str, Any]]:
    """Return the arguments of every call of one kind to the phone or push fake (`hang_up`…)."""
    recorder = fakes.push if method == "push" else fakes.phone
    return [arguments for name, arguments in recorder.calls if name == method]


def placed(runtime: Runtime) -> str:
    """Return the call id the phone gave the one page call."""
    with runtime.db.session() as session:
        [call] = session.scalars(
            select(Notification.provider_id).where(
                Notification.channel == "voice", Notification.action == "page"
            )
        ).all()
    assert call is not None
    return call


def declare(runtime: Runtime, severity: str = "SEV-2", **fields: Any) -> str:
    """Declare an incident on checkout; return its ref."""
    incident = runtime.flows.declare(
        actor=ACTOR, title="Checkout down", severity=severity, service="checkout", **fields
    )
    return incident.ref


def runs(runtime: Runtime) -> list[Any]:
    """Return every page run (rows of the table, readable after the session)."""
    with runtime.db.session() as session:
        return list(session.execute(select(PageRun.__table__).order_by(PageRun.id)))


def test_rules_run_in_order_and_an_acknowledgement_stops_the_rest(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    ref = declare(runtime)
    runtime.engine.run_once()
    # Rule 1 at once: Slack DM and push, with the one-click link; no SMS yet.
    [dm] = fakes.dms("UALICE1")
    assert "You are paged for INC-1" in dm["text"]
    [push] = calls(fakes, "push")
    assert push["url"] == "ntfys://n.test/a"
    assert push["note"].ack_url.startswith("https://warroom.example.com/ack/")
    assert push["note"].urgency == "default"  # integrations.push not set: the default
    assert calls(fakes, "sms") == []
    [run] = runs(runtime)
    assert (run.person, run.position, run.state) == ("alice", 1, "active")
    assert run.next_at == run.started_at + timedelta(minutes=2)

    clock.advance(timedelta(minutes=2))
    runtime.engine.run_once()
    [sms] = calls(fakes, "sms")
    assert sms["to"] == PHONE
    assert sms["body"].startswith('INC-1 SEV-2: Checkout down. Reply "ack 1" or "')
    assert f'"{runs(runtime)[0].reply_code}"' in sms["body"]
    assert sms["callback"] == (
        "https://warroom.example.com/api/v1/intake/twilio/status?key=inc1%3Apage%3A0%3A0%3Aalice%3Ar1%3Asms"
    )

    runtime.flows.acknowledge(ref, actor=Actor(name="alice", source="api"))
    clock.advance(timedelta(minutes=3))
    runtime.engine.run_once()
    assert calls(fakes, "call") == []  # the 5m call never comes
    [run] = runs(runtime)
    assert (run.state, run.reason, run.next_at) == ("stopped", "acknowledged", None)


def test_defaults_come_from_the_severity_and_a_restricted_incident_keeps_its_title(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    # Alice is acknowledged at once: the secondary, Bob, on SEV-1's defaults is paged.
    declare(runtime, "SEV-1", incident_type="security")
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=30))
    runtime.engine.run_once()
    bob = [a for a in calls(fakes, "sms") if a["to"] == "+4915187654321"]
    assert len(bob) == 1
    assert bob[0]["body"].startswith("INC-1 SEV-1: (restricted). Reply")
    assert "Checkout down" not in bob[0]["body"]
    clock.advance(timedelta(minutes=1))
    runtime.engine.run_once()
    [call] = [a for a in calls(fakes, "call") if a["to"] == "+4915187654321"]
    assert "(restricted)" in call["text"] and "Checkout" not in call["text"]
    assert call["gather_url"].startswith(
        "https://warroom.example.com/api/v1/intake/twilio/voice?link="
    )


def test_a_method_that_fails_moves_to_the_next_rule_at_once(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=2))
    fakes.phone.fail_with = DeliveryError("21211 invalid 'To' number", permanent=True)
    runtime.engine.run_once()  # the SMS is refused for good: dead
    fakes.phone.fail_with = None
    [run] = runs(runtime)
    assert run.next_at == clock.now()  # the 5m call is brought forward
    runtime.engine.run_once()
    [call] = calls(fakes, "call")
    assert call["to"] == PHONE
    assert runs(runtime)[0].state == "done"


def test_retries_run_out_then_the_next_rule(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=2))
    fakes.phone.fail_with = DeliveryError("Twilio answered 500")  # retryable
    for _ in range(3):  # three attempts, with backoff between them
        runtime.engine.run_once()
        clock.advance(timedelta(seconds=30))
    fakes.phone.fail_with = None
    runtime.engine.run_once()
    assert [a["to"] for a in calls(fakes, "call")] == [PHONE]  # long before 5m
    assert clock.now() < runs(runtime)[0].started_at + timedelta(minutes=5)


def test_unverified_methods_are_not_paged_and_the_timeline_says_why(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    with runtime.db.transaction() as session:
        session.add(
            ContactMethod(
                person="bob",
                name="pager",
                kind="push",
                address="ntfys://n.test/b",
                created_at=clock.now(),
            )
        )
    from warroom.escalation.models import PersonalRules

    with runtime.db.transaction() as session:
        session.add(
            PersonalRules(
                person="bob", steps=[{"after": "0m", "via": ["pager"]}], updated_at=clock.now()
            )
        )
    declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=30))
    runtime.engine.run_once()
    assert [a["url"] for a in calls(fakes, "push")] == ["ntfys://n.test/a"]  # Alice's only
    events = [e for e in runtime.flows.get("1").timeline if e.kind == "escalation_skipped"]
    assert "bob was on call but no channel can reach them (pager not verified yet" in (
        events[0].text
    )


def test_an_acknowledgement_while_the_call_is_queued_cancels_it_and_the_rest(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    ref = declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=5))
    runtime.engine.tick()  # the call (and the 2m SMS) are queued, not yet placed…
    runtime.flows.acknowledge(ref, actor=Actor(name="alice", source="sms"))  # …she replies
    while runtime.engine.sender.send_due():
        pass
    assert calls(fakes, "call") == [] and calls(fakes, "sms") == []
    clock.advance(timedelta(hours=1))
    runtime.engine.run_once()
    assert calls(fakes, "call") == []
    assert runs(runtime)[0].state in ("done", "stopped")


@pytest.mark.parametrize(
    "config",
    [
        WarroomConfig.model_validate(
            CONFIG
            | {
                "people": [
                    {"id": f"p{n}", "name": f"P{n}", "phone": f"+49151000{n:05d}"}
                    for n in range(12)
                ],
                "teams": [{"id": "everyone", "members": [f"p{n}" for n in range(12)]}],
                "escalation_policies": [
                    {"id": "default", "steps": [{"notify": ["team:everyone/members"]}]}
                ],
                "notifications": CONFIG["notifications"]
                | {"rules": {"default": [{"via": ["sms"]}]}},
                "integrations": {
                    "twilio": {
                        "account_sid": "AC" + "0" * 32,
                        "auth_token": "twilio-auth-token-0123",
                        "from": "+15005550006",
                        "sms_rate": {"count": 5, "per": "10s"},
                    }
                },
            }
        )
    ],
)
def test_the_providers_rate_limit_is_honoured(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    declare(runtime)
    runtime.engine.run_once()
    assert len(calls(fakes, "sms")) == 5  # twelve people, five texts per ten seconds
    clock.advance(timedelta(seconds=5))
    runtime.engine.run_once()
    assert len(calls(fakes, "sms")) == 5
    clock.advance(timedelta(seconds=6))
    runtime.engine.run_once()
    assert len(calls(fakes, "sms")) == 10
    clock.advance(timedelta(seconds=11))
    runtime.engine.run_once()
    assert sorted(a["to"] for a in calls(fakes, "sms")) == [f"+49151000{n:05d}" for n in range(12)]


def test_the_incident_room_shows_each_persons_next_rule(runtime: Runtime, fakes: Fakes) -> None:
    add_user(runtime, "alice", "responder")
    declare(runtime)
    runtime.engine.run_once()
    # base_url is https: the session cookie is Secure, so the browser must be on https too.
    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        signed = client.post("/sign-in", data={"user": "alice", "password": PASSWORD})
        assert signed.status_code == 200, signed.text  # followed to the war board
        room = client.get("/incidents/1")
        assert room.status_code == 200
        assert "Next, unless acknowledged" in room.text
        assert re.search(r"<strong>alice</strong> by SMS <small>.*rule 2 of 3</small>", room.text)
        runtime.flows.acknowledge("INC-1", actor=Actor(name="alice", source="web"))
        assert "Next, unless acknowledged" not in client.get("/incidents/1").text


def test_a_call_still_ringing_is_hung_up_when_someone_acknowledges(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    ref = declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    [call] = calls(fakes, "call")
    runtime.flows.acknowledge(ref, actor=Actor(name="bob", source="slack"))
    runtime.engine.run_once()
    assert calls(fakes, "hang_up") == [{"call_id": placed(runtime)}]
    assert call["to"] == PHONE


def test_the_call_that_acknowledged_is_not_hung_up(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    ref = declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    runtime.flows.acknowledge(ref, actor=Actor(name="alice", source="voice"))  # pressed 1
    runtime.engine.run_once()
    assert calls(fakes, "hang_up") == []


def test_a_call_placed_while_someone_acknowledges_is_hung_up_once_recorded(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    ref = declare(runtime)
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=5))
    placing = fakes.phone.call

    def call_while_alice_replies(**arguments: Any) -> str:
        sid = placing(**arguments)  # Twilio took the call…
        runtime.flows.acknowledge(ref, actor=Actor(name="alice", source="sms"))  # …she replies
        return sid

    fakes.phone.call = call_while_alice_replies  # type: ignore[method-assign]
    runtime.engine.run_once()
    assert calls(fakes, "hang_up") == [{"call_id": placed(runtime)}]
