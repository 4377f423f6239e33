"""The escalation engine and outbox with recording fakes: paging, stopping, skipping, repeats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.escalation.models import Escalation
from warroom.incidents.actor import Actor
from warroom.notify.fakes import (
    FakeChat,
    FakeConference,
    FakeMailer,
    FakePager,
    FakeStatusPage,
    FakeWebhook,
)
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters, DeliveryError
from warroom.runtime import Runtime

ACTOR = Actor(name="tester", source="api")

CONFIG = {
    "people": [
        {"id": "alice", "name": "Alice", "email": "alice@example.com", "slack": "UALICE1"},
        {"id": "bob", "name": "Bob", "email": "bob@example.com", "slack": "UBOB1"},
        {"id": "carol", "name": "Carol", "email": "carol@example.com"},
    ],
    "teams": [
        {"id": "payments", "members": ["alice", "bob"], "leads": ["carol"]},
        {"id": "empty", "members": ["alice"], "leads": []},
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
    "services": [
        {"id": "checkout", "team": "payments", "schedule": "payments"},
        {"id": "search", "team": "payments", "schedule": "payments", "escalation": "skippy"},
    ],
    "escalation_policies": [
        {
            "id": "skippy",
            "repeat": 1,
            "steps": [
                {"after": "0m", "notify": ["team:empty/leads"]},
                {"after": "10m", "notify": ["person:bob"]},
                {"after": "20m", "notify": ["person:carol", "channel:#payments-oncall"]},
            ],
        }
    ],
    "integrations": {
        # Credentials are never used: the runtime's adapters are the recording fakes.
        "zoom": {"account_id": "acct", "client_id": "cid", "client_secret": "csecret"},
        "pagerduty_events": {"routing_key": "R" * 32},
        "statuspage": {"api_key": "key", "page_id": "page1"},
        "outgoing_webhooks": [
            {"name": "ops", "url": "http://127.0.0.1:9/hook", "secret": "s3cret-s3cret-s3cret"}
        ],
    },
    "notifications": {
        "announce_channel": "#incident-response",
        "executives": ["cto@example.com"],
        "rate_limits": {"person": {"count": 50, "per": "1m"}},
    },
}


@pytest.fixture
def config() -> WarroomConfig:
    """People, a schedule with one person per layer, and two services."""
    return WarroomConfig.model_validate(CONFIG)


class Fakes:
    """Every adapter, recording."""

    def __init__(self) -> None:
        self.chat = FakeChat()
        self.mail = FakeMailer()
        self.zoom = FakeConference()
        self.pager = FakePager()
        self.status = FakeStatusPage()
        self.hooks = FakeWebhook()
        self.adapters = Adapters(
            chat=self.chat,
            mailer=self.mail,
            conference=self.zoom,
            pager=self.pager,
            status_page=self.status,
            webhook=self.hooks,
        )

    def pages(self) -> list[tuple[str, str]]:
        """Return (channel, who) of every page sent, in order."""
        out = [
            ("chat", a["channel"])
            for m, a in self.chat.calls
            if "You are paged" in a.get("text", "") and a["channel"].startswith("U")
        ]
        out += [("email", a["to"][0]) for m, a in self.mail.calls if "paged" in a["subject"]]
        return out


@pytest.fixture
def fakes(runtime: Runtime) -> Fakes:
    """Install recording fakes as the runtime's adapters."""
    recorded = Fakes()
    runtime.adapters_override = recorded.adapters
    runtime.engine.sender.workers = 1
    return recorded


def statuses(runtime: Runtime) -> dict[str, str]:
    """Return key -> status of every outbox row."""
    with runtime.db.session() as session:
        return {r.key: r.status for r in session.scalars(select(Notification))}


def test_declare_pages_primary_and_runs_the_runbook_rules(runtime: Runtime, fakes: Fakes) -> None:
    incident = runtime.flows.declare(
        actor=ACTOR, title="Checkout down", severity="SEV-1", service="checkout"
    )
    sent = runtime.engine.run_once()
    assert sent >= 6
    # Primary paged by chat (DM) and email; nobody else yet.
    assert ("chat", "UALICE1") in fakes.pages()
    assert ("email", "alice@example.com") in fakes.pages()
    assert not [p for p in fakes.pages() if "bob" in p[1].lower()]
    methods = [m for m, _ in fakes.chat.calls]
    assert methods.index("create_channel") < methods.index("invite")
    channel = next(a for m, a in fakes.chat.calls if m == "create_channel")
    assert channel["name"].startswith(f"inc-{incident.number}-checkout-down")
    assert channel["private"] is False
    announce = [a for m, a in fakes.chat.calls if a.get("channel") == "#incident-response"]
    assert announce and announce[0]["card"].number == incident.number
    # Executive email for SEV-1; a conference room whose link lands in the channel.
    assert any(a["to"] == ["cto@example.com"] for _, a in fakes.mail.calls)
    assert len(fakes.zoom.calls) == 1
    assert any("meet.invalid" in a.get("text", "") for _, a in fakes.chat.calls)
    assert fakes.pager.calls[0][1]["action"] == "trigger"
    assert fakes.pager.calls[0][1]["dedup_key"] == str(incident.number)  # the issue: the number
    assert fakes.hooks.calls[0][1]["event"] == "incident.declared"
    detail = runtime.flows.get(str(incident.number))
    assert detail.links["conference_url"].startswith("https://meet.invalid/")
    assert detail.links["chat_channel"].startswith(f"#inc-{incident.number}-")
    kinds = [e.kind for e in detail.timeline]
    assert "paged" in kinds and "notification" in kinds
    assert set(statuses(runtime).values()) == {"sent"}


def test_escalates_to_secondary_until_acknowledged(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    incident = runtime.flows.declare(
        actor=ACTOR, title="Checkout slow", severity="SEV-2", service="checkout"
    )
    runtime.engine.run_once()
    clock.advance(timedelta(minutes=4, seconds=59))
    runtime.engine.run_once()
    assert not [p for p in fakes.pages() if p[1] in ("UBOB1", "bob@example.com")]
    clock.advance(timedelta(seconds=1))
    runtime.engine.run_once()
    assert ("chat", "UBOB1") in fakes.pages()
    runtime.flows.acknowledge(str(incident.number), actor=Actor(name="bob", source="api"))
    before = len(fakes.pages())
    clock.advance(timedelta(hours=2))
    runtime.engine.run_once()
    assert len(fakes.pages()) == before  # acknowledgement stops paging
    with runtime.db.session() as session:
        row = session.scalar(select(Escalation))
        assert row is not None and row.state == "stopped" and row.next_at is None
    assert fakes.pager.calls[-1][1]["action"] == "acknowledge"


def test_step_with_nobody_is_skipped_at_once_and_policy_repeats(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    runtime.flows.declare(actor=ACTOR, title="Search broken", severity="SEV-1", service="search")
    runtime.engine.run_once()
    # Step 1 (team leads of `empty`) reaches nobody: bob (step 2) is paged at once.
    assert [p for p in fakes.pages() if p[0] == "chat"] == [("chat", "UBOB1")]
    clock.advance(timedelta(minutes=10))
    runtime.engine.run_once()
    assert ("email", "carol@example.com") in fakes.pages()
    assert any(a.get("channel") == "#payments-oncall" for _, a in fakes.chat.calls)
    # Round two starts after the last gap (10 min), again skipping step 1.
    clock.advance(timedelta(minutes=10))
    runtime.engine.run_once()
    assert [p for p in fakes.pages() if p[0] == "chat"] == [("chat", "UBOB1")] * 2
    clock.advance(timedelta(minutes=10))
    runtime.engine.run_once()
    clock.advance(timedelta(hours=1))
    runtime.engine.run_once()
    with runtime.db.session() as session:
        row = session.scalar(select(Escalation))
        assert row is not None and row.state == "exhausted"
    detail = runtime.flows.get("1")
    kinds = [e.kind for e in detail.timeline]
    assert kinds.count("escalation_skipped") == 2
    skipped = next(e for e in detail.timeline if e.kind == "escalation_skipped")
    assert skipped.text == "Nobody on call at step 1: moved on at once"  # nobody was named
    assert "escalation_exhausted" in kinds
    assert [p for p in fakes.pages() if p[0] == "chat"] == [("chat", "UBOB1")] * 2


def test_severity_without_paging_pages_nobody(runtime: Runtime, fakes: Fakes) -> None:
    runtime.flows.declare(actor=ACTOR, title="Typo", severity="SEV-4", service="checkout")
    runtime.engine.run_once()
    assert fakes.pages() == []
    assert not fakes.mail.calls  # no executive mail for SEV-4
    assert not fakes.zoom.calls
    with runtime.db.session() as session:
        assert session.scalar(select(Escalation)) is None


def test_declaring_never_fails_when_adapters_are_down(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    fakes.chat.fail_with = DeliveryError("slack is down")
    incident = runtime.flows.declare(
        actor=ACTOR, title="Checkout down", severity="SEV-1", service="checkout"
    )
    assert incident.number == 1
    runtime.engine.run_once()
    state = statuses(runtime)
    assert state["inc1:channel"] == "failed"
    # Later chat rows for the incident channel wait behind the failed create (in order).
    assert state["inc1:card"] == "pending"
    assert state["inc1:exec:SEV-1"] == "sent"  # email is unaffected
    fakes.chat.fail_with = None
    clock.advance(timedelta(minutes=11))  # past any backoff of the first attempts
    for _ in range(5):
        runtime.engine.run_once()
    state = statuses(runtime)
    assert state["inc1:channel"] == "sent" and state["inc1:card"] == "sent"
    keys = fakes.chat.keys()
    assert keys.index("inc1:channel") < keys.index("inc1:invite:alice") < keys.index("inc1:card")


def test_retries_until_dead_then_admin_resends(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock, api: TestClient, tokens: dict[str, str]
) -> None:
    fakes.pager.fail_with = DeliveryError("PagerDuty answered 500")
    runtime.flows.declare(actor=ACTOR, title="x", severity="SEV-1", service="checkout")
    attempts = []
    for _ in range(12):
        runtime.engine.run_once()
        with runtime.db.session() as session:
            row = session.scalar(select(Notification).where(Notification.channel == "pager"))
            assert row is not None
            attempts.append((row.status, row.attempts))
        clock.advance(timedelta(minutes=11))
    assert attempts[0] == ("failed", 1)
    assert attempts[-1] == ("dead", 10)
    assert ("dead", 10) not in attempts[:9]
    detail = runtime.flows.get("1")
    assert any(e.kind == "notification_failed" for e in detail.timeline)
    listed = api.get("/api/v1/notifications", params={"status": "dead"}).json()
    row_id = listed["items"][0]["id"]
    assert [item["key"] for item in listed["items"]] == ["inc1:pager:trigger"]
    assert listed["depth"]["dead"] == 1
    assert "500" in listed["items"][0]["last_error"]
    assert api.post(f"/api/v1/notifications/{row_id}/resend").status_code == 403
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    fakes.pager.fail_with = None
    answer = api.post(f"/api/v1/notifications/{row_id}/resend", headers=admin)
    assert answer.status_code == 200 and answer.json()["status"] == "pending"
    again = api.post(f"/api/v1/notifications/{row_id}/resend", headers=admin)
    assert again.status_code == 409
    assert api.post("/api/v1/notifications/999999/resend", headers=admin).status_code == 404
    runtime.engine.run_once()
    assert statuses(runtime)["inc1:pager:trigger"] == "sent"
    assert api.get("/api/v1/notifications", params={"status": "bogus"}).status_code == 422


def test_pages_to_one_person_are_bundled(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    for title in ("one", "two", "three"):
        runtime.flows.declare(actor=ACTOR, title=title, severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    dms = [a for m, a in fakes.chat.calls if m == "post" and a["channel"] == "UALICE1"]
    assert len(dms) == 1
    assert dms[0]["text"].startswith("3 pages for you")
    with runtime.db.session() as session:
        rows = session.scalars(
            select(Notification).where(
                Notification.action == "page", Notification.channel == "chat"
            )
        ).all()
        assert {r.status for r in rows} == {"sent"}
        assert sum(1 for r in rows if r.bundled_into is not None) == 2


def test_rate_limit_defers_pages_beyond_the_limit(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock, config: WarroomConfig
) -> None:
    config.notifications.rate_limits["person"].count = 1
    runtime.flows.declare(actor=ACTOR, title="one", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    runtime.flows.declare(actor=ACTOR, title="two", severity="SEV-2", service="checkout")
    runtime.engine.run_once()
    dms = [a for m, a in fakes.chat.calls if a.get("channel") == "UALICE1"]
    assert len(dms) == 1
    assert statuses(runtime)["inc2:page:0:0:alice:chat"] == "pending"
    clock.advance(timedelta(minutes=1, seconds=1))
    runtime.engine.run_once()
    dms = [a for m, a in fakes.chat.calls if a.get("channel") == "UALICE1"]
    assert len(dms) == 2


def test_status_page_mirrors_public_updates_only(
    runtime: Runtime, fakes: Fakes, api: TestClient
) -> None:
    incident = runtime.flows.declare(
        actor=ACTOR, title="Checkout down", severity="SEV-1", service="checkout"
    )
    runtime.engine.run_once()
    assert fakes.status.calls == []  # nothing public until someone publishes
    ref = f"/api/v1/incidents/{incident.number}/status-updates"
    private = api.post(
        ref, json={"status": "identified", "body": "db primary lost", "public": False}
    )
    assert private.status_code == 201, private.text
    runtime.engine.run_once()
    assert fakes.status.calls == []  # a private update stays inside
    update = {"status": "identified", "body": "Payments fail; fix underway"}
    public = api.post(ref, json={**update, "public_title": "Payments are failing"})
    assert public.status_code == 201, public.text
    runtime.engine.run_once()
    last = fakes.status.calls[-1][1]
    assert last["status"] == "identified" and last["body"] == "Payments fail; fix underway"
    # Named by its public title: "Checkout down" is the responders' own wording.
    assert last["name"] == f"Payments are failing (INC-{incident.number})"
    assert len(fakes.status.calls) == 1
    channel_texts = [a.get("text", "") for _, a in fakes.chat.calls]
    assert any("Payments fail" in text for text in channel_texts)


def test_restricted_incident_is_never_announced_or_mirrored(runtime: Runtime, fakes: Fakes) -> None:
    runtime.flows.declare(
        actor=ACTOR,
        title="Data breach",
        severity="SEV-1",
        service="checkout",
        visibility="restricted",
    )
    runtime.engine.run_once()
    assert not fakes.status.calls
    assert not [a for _, a in fakes.chat.calls if a.get("channel") == "#incident-response"]
    created = next(a for m, a in fakes.chat.calls if m == "create_channel")
    assert created["private"] is True


def test_escalation_state_is_shown_with_the_pinned_policy(
    runtime: Runtime, fakes: Fakes, api: TestClient, clock: FrozenClock
) -> None:
    incident = runtime.flows.declare(
        actor=ACTOR, title="Search broken", severity="SEV-1", service="search"
    )
    runtime.engine.run_once()
    shown = api.get(f"/api/v1/incidents/{incident.number}/escalation")
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["policy_id"] == "skippy" and body["state"] == "active"
    assert body["step"] == 2 and body["round"] == 0  # steps 1 (nobody) and 2 ran at once
    assert len(body["policy"]["steps"]) == 3 and len(body["policy_version"]) == 12
    quiet = runtime.flows.declare(actor=ACTOR, title="Typo", severity="SEV-4", service="search")
    missing = api.get(f"/api/v1/incidents/{quiet.number}/escalation")
    assert missing.status_code == 404
    assert "does not page" in missing.json()["error"]["message"]
    assert api.get("/api/v1/incidents/INC-999/escalation").status_code == 404


def test_a_reloaded_policy_does_not_change_a_running_escalation(
    runtime: Runtime, fakes: Fakes, clock: FrozenClock
) -> None:
    runtime.flows.declare(actor=ACTOR, title="Search broken", severity="SEV-1", service="search")
    runtime.engine.run_once()
    changed = dict(CONFIG)
    changed["escalation_policies"] = [
        {"id": "skippy", "steps": [{"after": "0m", "notify": ["person:alice"]}]}
    ]
    runtime.config_value = WarroomConfig.model_validate(changed)
    clock.advance(timedelta(minutes=10))
    runtime.engine.run_once()
    # The pinned version still pages carol at 10 minutes, not the new policy's alice.
    assert ("email", "carol@example.com") in fakes.pages()
    assert ("chat", "UALICE1") not in fakes.pages()
    later = runtime.flows.declare(actor=ACTOR, title="Again", severity="SEV-1", service="search")
    runtime.engine.run_once()
    assert ("chat", "UALICE1") in fakes.pages()  # a new incident takes the new version
    assert later.number == 2
