"""Silences through HTTP: validation, states, expiry, and what they do to intake."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock

API = "/api/v1/silences"
TOKEN = "webhook-token"
HOOK = {"Authorization": f"Bearer {TOKEN}"}
CHECKOUT = ['service="checkout"']


@pytest.fixture
def config() -> WarroomConfig:
    """A generic webhook integration to deliver alerts through."""
    return WarroomConfig.model_validate(
        {"integrations": {"webhook": [{"name": "hooks", "token": TOKEN}]}}
    )


@pytest.fixture
def api(client: TestClient, tokens: dict[str, str]) -> TestClient:
    """A responder's client of the same app, so that `client` stays without a token."""
    return TestClient(client.app, headers={"Authorization": f"Bearer {tokens['responder']}"})


def create(api: TestClient, **fields: Any) -> httpx.Response:
    """POST a silence: checkout for an hour unless fields say otherwise."""
    body = {"matchers": CHECKOUT, "duration_minutes": 60, "comment": "DB upgrade"} | fields
    return api.post(API, json={k: v for k, v in body.items() if v is not None})


def iso(when: datetime) -> str:
    """Format a time for the API."""
    return when.isoformat()


def when(value: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(value)


def ids(api: TestClient, state: str | None = None) -> list[int]:
    """Return the ids of the silences listed for `state` (the API's default when None)."""
    params = {"state": state} if state else {}
    response = api.get(API, params=params)
    assert response.status_code == 200, response.text
    return [silence["id"] for silence in response.json()]


def deliver(client: TestClient, key: str = "db-slow", status: str = "firing") -> dict[str, Any]:
    """Send one checkout alert through the generic webhook; return the intake result."""
    alert = {"title": "DB slow", "dedup_key": key, "status": status}
    response = client.post(
        "/api/v1/intake/webhook", json={**alert, "labels": {"service": "checkout"}}, headers=HOOK
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def error(response: httpx.Response, status: int) -> str:
    """Assert an error status and return its message."""
    assert response.status_code == status, response.text
    message: str = response.json()["error"]["message"]
    return message


# Creating


def test_create_with_duration(api: TestClient, clock: FrozenClock) -> None:
    response = create(api, matchers=['service="checkout"', 'env!="dev"'], duration_minutes=90)
    assert response.status_code == 201, response.text
    silence = response.json()
    assert silence["matchers"] == ['service="checkout"', 'env!="dev"']
    assert when(silence["starts_at"]) == clock.now()
    assert when(silence["ends_at"]) == clock.now() + timedelta(minutes=90)
    assert (silence["state"], silence["comment"], silence["created_by"]) == (
        "active",
        "DB upgrade",
        "rita",
    )
    assert silence["expired_by"] is None
    assert api.get(f"{API}/{silence['id']}").json() == silence


def test_create_with_ends_at_and_later_start(api: TestClient, clock: FrozenClock) -> None:
    starts = clock.now() + timedelta(hours=2)
    response = create(
        api,
        duration_minutes=None,
        starts_at="2026-03-02T12:00:00+01:00",  # 11:00 UTC
        ends_at="2026-03-02T13:00:00",  # no offset: UTC
    )
    assert response.status_code == 201, response.text
    silence = response.json()
    assert when(silence["starts_at"]) == starts
    assert when(silence["ends_at"]) == starts + timedelta(hours=2)
    assert silence["state"] == "pending"
    later = create(api, starts_at=iso(starts), duration_minutes=30).json()
    assert when(later["ends_at"]) == starts + timedelta(minutes=30)


def test_exactly_one_of_duration_and_ends_at(api: TestClient, clock: FrozenClock) -> None:
    both = create(api, ends_at=iso(clock.now() + timedelta(hours=1)))
    assert error(both, 422) == "give exactly one of ends_at and duration_minutes"
    neither = create(api, duration_minutes=None)
    assert error(neither, 422) == "give exactly one of ends_at and duration_minutes"
    assert "duration_minutes" in error(create(api, duration_minutes=0), 422)
    assert ids(api, "all") == []


def test_bad_matcher_names_its_index(api: TestClient) -> None:
    response = create(api, matchers=['service="checkout"', "service=checkout"])
    message = error(response, 422)
    assert message.startswith("matchers[1]: ")
    assert "double quotes" in message
    assert response.json()["error"]["details"] == {"field": "matchers.1"}
    assert error(create(api, matchers=['x=~"("']), 422).startswith("matchers[0]: ")
    assert "matchers" in error(create(api, matchers=[]), 422)
    assert ids(api, "all") == []


def test_bad_windows_and_comments(api: TestClient, clock: FrozenClock) -> None:
    now = clock.now()
    backwards = create(
        api, duration_minutes=None, starts_at=iso(now + timedelta(hours=2)), ends_at=iso(now)
    )
    assert error(backwards, 422) == "ends_at must be after starts_at"
    past = create(
        api,
        duration_minutes=None,
        starts_at=iso(now - timedelta(hours=2)),
        ends_at=iso(now - timedelta(minutes=1)),
    )
    assert "ends_at is in the past" in error(past, 422)
    assert "366 days" in error(create(api, duration_minutes=None, ends_at="2027-04-01T00:00Z"), 422)
    assert "comment" in error(create(api, comment=""), 422)
    assert "say why in the comment" in error(create(api, comment="   "), 422)
    extra = {"matchers": CHECKOUT, "duration_minutes": 5, "comment": "x", "oops": 1}
    assert "oops: is not a known field" in error(api.post(API, json=extra), 422)
    assert ids(api, "all") == []


def test_viewer_cannot_create_or_expire(
    client: TestClient, api: TestClient, tokens: dict[str, str]
) -> None:
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    body = {"matchers": CHECKOUT, "duration_minutes": 60, "comment": "x"}
    assert error(client.post(API, json=body, headers=viewer), 403) == (
        "this needs the responder role; vic is a viewer"
    )
    assert client.post(API, json=body).status_code == 401
    silence = create(api).json()
    assert client.post(f"{API}/{silence['id']}/expire", headers=viewer).status_code == 403
    listed = client.get(API, headers=viewer)
    assert listed.status_code == 200  # viewers may read
    assert [s["state"] for s in listed.json()] == ["active"]


# Listing and expiring


def test_list_by_state(api: TestClient, clock: FrozenClock) -> None:
    now = clock.now()
    active = create(api, duration_minutes=180).json()["id"]
    pending = create(api, starts_at=iso(now + timedelta(hours=1))).json()["id"]
    ending = create(api, duration_minutes=5).json()["id"]
    clock.advance(timedelta(minutes=10))  # `ending` is over now
    assert ids(api) == [active]
    assert ids(api, "active") == [active]
    assert ids(api, "pending") == [pending]
    assert ids(api, "expired") == [ending]
    assert ids(api, "all") == [ending, pending, active]  # newest first
    states = {s["id"]: s["state"] for s in api.get(API, params={"state": "all"}).json()}
    assert states == {active: "active", pending: "pending", ending: "expired"}
    assert "state" in error(api.get(API, params={"state": "soon"}), 422)
    clock.advance(timedelta(hours=1))
    assert ids(api, "active") == [pending, active]


def test_expire(api: TestClient, clock: FrozenClock) -> None:
    silence = create(api).json()
    clock.advance(timedelta(minutes=10))
    response = api.post(f"{API}/{silence['id']}/expire")
    assert response.status_code == 200, response.text
    expired = response.json()
    assert (expired["state"], expired["expired_by"]) == ("expired", "rita")
    assert when(expired["ends_at"]) == clock.now()
    assert when(expired["starts_at"]) == when(silence["starts_at"])
    assert ids(api) == []
    assert ids(api, "expired") == [silence["id"]]
    again = api.post(f"{API}/{silence['id']}/expire")
    assert "already expired" in error(again, 409)
    assert api.get(f"{API}/{silence['id']}").json()["ends_at"] == expired["ends_at"]


def test_expire_pending_never_starts(api: TestClient, clock: FrozenClock) -> None:
    silence = create(api, starts_at=iso(clock.now() + timedelta(hours=1))).json()
    expired = api.post(f"{API}/{silence['id']}/expire").json()
    assert expired["state"] == "expired"
    clock.advance(timedelta(hours=1, minutes=1))
    assert ids(api, "active") == [] and ids(api, "pending") == []


def test_unknown_silence_is_404(api: TestClient) -> None:
    assert error(api.get(f"{API}/42"), 404) == "no silence 42"
    assert error(api.post(f"{API}/42/expire"), 404) == "no silence 42"
    assert api.get(f"{API}/0").status_code == 422
    assert api.get(f"{API}/abc").status_code == 422


# Effect on intake


def stored(api: TestClient) -> list[dict[str, Any]]:
    """Return the stored alerts."""
    items: list[dict[str, Any]] = api.get("/api/v1/alerts").json()["items"]
    return items


def incidents(api: TestClient) -> list[str]:
    """Return the refs of all incidents."""
    return [i["ref"] for i in api.get("/api/v1/incidents").json()["items"]]


def test_active_silence_stores_alert_without_incident(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    silence = create(api).json()
    result = deliver(client)
    assert (result["accepted"], result["silenced"], result["incidents_opened"]) == (1, 1, [])
    (alert,) = stored(api)
    assert (alert["silence_id"], alert["incident"], alert["status"]) == (
        silence["id"],
        None,
        "firing",
    )
    assert incidents(api) == []
    # A repeat while silenced is still only stored.
    clock.advance(timedelta(minutes=5))
    assert deliver(client)["silenced"] == 1
    assert incidents(api) == [] and stored(api)[0]["seen_count"] == 2
    # Alerts the silence does not match are not held back.
    other = client.post(
        "/api/v1/intake/webhook",
        json={"title": "Search down", "dedup_key": "s", "labels": {"service": "search"}},
        headers=HOOK,
    )
    assert other.json()["incidents_opened"] == ["INC-1"]


def test_pending_silence_does_not_apply_yet(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    create(api, starts_at=iso(clock.now() + timedelta(minutes=30)))
    result = deliver(client)
    assert (result["silenced"], result["incidents_opened"]) == (0, ["INC-1"])
    assert stored(api)[0]["silence_id"] is None
    clock.advance(timedelta(minutes=31))
    assert deliver(client, key="another")["silenced"] == 1
    assert incidents(api) == ["INC-1"]


def test_after_expiry_next_delivery_opens_incident(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    silence = create(api).json()
    deliver(client)
    assert incidents(api) == []
    api.post(f"{API}/{silence['id']}/expire")
    result = deliver(client)  # same clock instant: the silence ended at this very moment
    assert (result["repeated"], result["silenced"], result["incidents_opened"]) == (1, 0, ["INC-1"])
    (alert,) = stored(api)
    assert (alert["silence_id"], alert["incident"]) == (None, "INC-1")


def test_silence_running_out_lets_the_alert_through(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    create(api, duration_minutes=15)
    deliver(client)
    clock.advance(timedelta(minutes=14))
    assert deliver(client)["incidents_opened"] == []
    clock.advance(timedelta(minutes=1))
    assert deliver(client)["incidents_opened"] == ["INC-1"]


def test_resolved_while_silenced_opens_nothing(
    client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    silence = create(api).json()
    deliver(client)
    clock.advance(timedelta(minutes=5))
    assert deliver(client, status="resolved")["resolved"] == 1
    api.post(f"{API}/{silence['id']}/expire")
    assert incidents(api) == []
    assert stored(api)[0]["status"] == "resolved"


def test_reports_are_never_silenced(api: TestClient) -> None:
    create(api)
    report = api.post("/api/v1/reports", json={"title": "Checkout is down", "service": "checkout"})
    assert report.status_code == 201, report.text
    assert report.json()["incidents_opened"] == ["INC-1"]
    assert stored(api)[0]["silence_id"] is None
