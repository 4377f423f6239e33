"""Atlassian Statuspage, over a real socket to a loopback fake of its incidents API."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import free_port
from tests.notify.statuspage_server import API_KEY, PAGE_ID, StatuspageServer
from warroom.notify.ports import DeliveryError, StatusPage
from warroom.notify.statuspage import AtlassianStatuspage
from warroom.notify.statuspage_config import StatuspageConfig

CHECKOUT, API = "cmpcheckout01", "cmpapi0000002"


@pytest.fixture
def server() -> Iterator[StatuspageServer]:
    with StatuspageServer() as fake:
        yield fake


def make_config(url: str, **overrides: Any) -> StatuspageConfig:
    data = {
        "api_key": API_KEY,
        "page_id": PAGE_ID,
        "base_url": url,
        "components": {"checkout": CHECKOUT, "api": API},
        "timeout": 10,
    }
    return StatuspageConfig.model_validate({**data, **overrides})


@pytest.fixture
def page(server: StatuspageServer) -> Iterator[AtlassianStatuspage]:
    with AtlassianStatuspage(make_config(server.url)) as adapter:
        yield adapter


def upsert(page: StatusPage, provider_id: str | None = None, **kw: Any) -> str:
    arguments: dict[str, Any] = {
        "name": "Checkout unavailable (INC-42)",
        "status": "detected",
        "body": "We are investigating failed checkouts.",
        "impact": "SEV-1",
        "components": {"checkout": "major_outage"},
        "key": "ob-1",
    }
    return page.upsert_incident(provider_id=provider_id, **{**arguments, **kw})


def test_create_sends_the_documented_request(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    incident_id = upsert(page)

    (listing, create) = server.requests
    assert (listing.method, listing.path) == ("GET", f"/v1/pages/{PAGE_ID}/incidents/unresolved")
    assert (create.method, create.path) == ("POST", f"/v1/pages/{PAGE_ID}/incidents")
    assert create.headers["authorization"] == f"OAuth {API_KEY}"
    assert create.headers["content-type"] == "application/json"
    assert create.body == {
        "incident": {
            "name": "Checkout unavailable (INC-42)",
            "status": "investigating",
            "body": "We are investigating failed checkouts.",
            "impact_override": "critical",
            "component_ids": [CHECKOUT],
            "components": {CHECKOUT: "major_outage"},
            "deliver_notifications": True,
        }
    }
    stored = server.incidents[incident_id]
    assert stored["status"] == "investigating" and stored["impact"] == "critical"
    assert server.component_status[CHECKOUT] == "major_outage"


def test_updates_add_to_the_same_incident(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    incident_id = upsert(page)
    assert upsert(page, incident_id, status="triaged", body="Cause found.", key="ob-2") == (
        incident_id
    )
    assert upsert(page, incident_id, status="mitigated", body="Fix deployed.", key="ob-3") == (
        incident_id
    )
    patch = server.requests[-1]
    assert (patch.method, patch.path) == ("PATCH", f"/v1/pages/{PAGE_ID}/incidents/{incident_id}")
    assert [(u["status"], u["body"]) for u in server.updates(incident_id)] == [
        ("investigating", "We are investigating failed checkouts."),
        ("identified", "Cause found."),
        ("monitoring", "Fix deployed."),
    ]
    assert len(server.incidents) == 1


def test_an_update_renames_the_incident_to_the_public_title_it_carries(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    incident_id = upsert(page)
    upsert(page, incident_id, name="Payments delayed", status="triaged", key="INC-42:ev9:status")
    patch = server.requests[-1]
    assert patch.method == "PATCH"
    assert patch.body["incident"]["name"] == "Payments delayed (INC-42)"  # findable on retry
    assert server.incidents[incident_id]["name"] == "Payments delayed (INC-42)"


def test_resolving_puts_components_back_to_operational(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    incident_id = upsert(page)
    upsert(page, incident_id, status="resolved", body="All good.", key="ob-9")
    assert server.requests[-1].body["incident"]["components"] == {CHECKOUT: "operational"}
    assert server.incidents[incident_id]["status"] == "resolved"
    assert server.component_status[CHECKOUT] == "operational"


def test_components_can_stay_as_given_on_resolve(server: StatuspageServer) -> None:
    with AtlassianStatuspage(make_config(server.url, operational_on_resolve=False)) as page:
        incident_id = upsert(page)
        upsert(page, incident_id, status="resolved", components={"checkout": "partial_outage"})
    assert server.component_status[CHECKOUT] == "partial_outage"


def test_unknown_components_are_skipped_with_a_log_line(
    server: StatuspageServer, page: AtlassianStatuspage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="warroom.notify")
    components = {"checkout": "degraded_performance", "search": "major_outage", "api": "on fire"}
    upsert(page, components=components)
    sent = server.requests[-1].body["incident"]
    assert sent["components"] == {CHECKOUT: "degraded_performance"}
    assert sent["component_ids"] == [CHECKOUT]
    assert "component 'search' has no Statuspage component" in caplog.text
    assert "'on fire' is no Statuspage status" in caplog.text


def test_statuses_and_impacts_in_statuspages_words_pass_through(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    upsert(page, status="identified", impact="minor", components={})
    sent = server.requests[-1].body["incident"]
    assert (sent["status"], sent["impact_override"]) == ("identified", "minor")
    assert "components" not in sent and "component_ids" not in sent


def test_an_unknown_impact_is_left_to_statuspage(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    upsert(page, impact="SEV-9")
    assert "impact_override" not in server.requests[-1].body["incident"]


def test_an_unknown_status_is_refused_before_sending(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    with pytest.raises(DeliveryError, match="no Statuspage status for 'exploded'") as caught:
        upsert(page, status="exploded")
    assert caught.value.permanent and server.requests == []


def test_the_reference_is_added_to_a_name_without_one(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    incident_id = upsert(page, name="Checkout unavailable", key="INC-42:statuspage:1")
    assert server.incidents[incident_id]["name"] == "Checkout unavailable (INC-42)"


# -- a create whose answer was lost ----------------------------------------------------------


def test_a_lost_create_answer_does_not_duplicate(server: StatuspageServer) -> None:
    with AtlassianStatuspage(make_config(server.url, timeout=0.2)) as page:
        # Statuspage makes the incident, but its answer arrives after the client gave up.
        server.hang(0.5, times=1, process=True, method="POST")
        with pytest.raises(DeliveryError) as caught:
            upsert(page)
        assert not caught.value.permanent
        (first,) = server.incidents

        retried = upsert(page)  # the outbox retries with provider_id still None
    assert retried == first and len(server.incidents) == 1
    assert [r.method for r in server.requests] == ["GET", "POST", "GET", "PATCH"]
    assert len(server.updates(first)) == 2  # the retry's text is an update, not a new incident


def test_a_slow_lookup_creates_nothing(server: StatuspageServer) -> None:
    server.hang(5.0, times=1, method="GET")
    page = AtlassianStatuspage(make_config(server.url, timeout=0.2))
    with page, pytest.raises(DeliveryError) as caught:
        upsert(page)
    server.recover()
    assert not caught.value.permanent
    assert server.incidents == {}


def test_the_lookup_ignores_resolved_and_other_incidents(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    old = upsert(page)
    upsert(page, old, status="resolved")
    other = upsert(page, name="Search slow (INC-420)", key="ob-7")
    new = upsert(page)
    assert len({old, other, new}) == 3


def test_the_lookup_reads_every_page_of_unresolved_incidents(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    target = upsert(page)
    for n in range(150):  # newer incidents (made by hand) push INC-42 onto the second page
        noise = {**server.incidents[target], "id": f"noise{n}", "name": f"Noise (INC-{1000 + n})"}
        server.incidents[noise["id"]] = noise
    server.requests.clear()
    assert upsert(page, body="Still investigating.") == target
    pages = [r.query.get("page") for r in server.requests if r.method == "GET"]
    assert pages == [["1"], ["2"]]
    assert server.requests[-1].method == "PATCH"


# -- failures ----------------------------------------------------------------------------------


def test_a_wrong_api_key_is_permanent_and_not_quoted(server: StatuspageServer) -> None:
    page = AtlassianStatuspage(make_config(server.url, api_key="wrong-key-123"))
    with page, pytest.raises(DeliveryError, match="HTTP 401: Could not authenticate") as caught:
        upsert(page)
    assert caught.value.permanent
    assert "wrong-key-123" not in str(caught.value) and API_KEY not in str(caught.value)


def test_a_wrong_page_is_permanent(server: StatuspageServer) -> None:
    page = AtlassianStatuspage(make_config(server.url, page_id="nopage"))
    with page, pytest.raises(DeliveryError, match="HTTP 404") as caught:
        upsert(page)
    assert caught.value.permanent


def test_a_component_missing_from_the_page_is_refused(server: StatuspageServer) -> None:
    config = make_config(server.url, components={"checkout": "cmpgone000009"})
    with AtlassianStatuspage(config) as page, pytest.raises(DeliveryError) as caught:
        upsert(page)
    assert caught.value.permanent
    assert "HTTP 422" in str(caught.value) and "cmpgone000009" in str(caught.value)


def test_an_incident_deleted_on_statuspage_is_permanent(
    server: StatuspageServer, page: AtlassianStatuspage
) -> None:
    with pytest.raises(DeliveryError, match="HTTP 404") as caught:
        upsert(page, "spdeleted", status="mitigated")
    assert caught.value.permanent


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (420, False),
        (429, False),
        (500, False),
        (503, False),
        (408, False),
        (400, True),
        (403, True),
    ],
)
def test_error_statuses(
    server: StatuspageServer, page: AtlassianStatuspage, status: int, permanent: bool
) -> None:
    server.fail(status=status, times=1)
    with pytest.raises(DeliveryError) as caught:
        upsert(page)
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in str(caught.value) and API_KEY not in str(caught.value)
    assert server.incidents == {}
    upsert(page)  # the outbox's retry
    assert len(server.incidents) == 1


def test_a_hanging_statuspage_is_a_temporary_timeout(server: StatuspageServer) -> None:
    server.hang(5.0)
    page = AtlassianStatuspage(make_config(server.url, timeout=0.2))
    with page, pytest.raises(DeliveryError, match=r"within 0\.2 s") as caught:
        upsert(page)
    server.recover()
    assert not caught.value.permanent and API_KEY not in str(caught.value)


def test_nothing_listening_is_temporary() -> None:
    page = AtlassianStatuspage(make_config(f"http://127.0.0.1:{free_port()}"))
    with page, pytest.raises(DeliveryError, match="could not reach Statuspage") as caught:
        upsert(page)
    assert not caught.value.permanent


# -- configuration ---------------------------------------------------------------------------


def test_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SP_KEY", API_KEY)
    config = StatuspageConfig.model_validate({"api_key": "env:SP_KEY", "page_id": PAGE_ID})
    assert config.base_url == "https://api.statuspage.io"
    assert config.severities == ["SEV-1", "SEV-2"]
    assert config.impact_map == {
        "SEV-1": "critical",
        "SEV-2": "major",
        "SEV-3": "minor",
        "SEV-4": "none",
    }
    assert config.timeout == 10.0 and config.deliver_notifications
    assert config.sends("SEV-2") and not config.sends("SEV-3")
    assert API_KEY not in repr(config)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"page_id": "../other"}, "page_id"),
        ({"base_url": "http://api.statuspage.io"}, "must be https://"),
        ({"impact_map": {"SEV-1": "apocalyptic"}}, "impact_map.SEV-1"),
        ({"api_key": ""}, "must not be empty"),
        ({"pages": ["x"]}, "pages"),
    ],
)
def test_config_refuses_bad_input(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        StatuspageConfig.model_validate({"api_key": API_KEY, "page_id": PAGE_ID, **override})
    assert message in str(caught.value) and API_KEY not in str(caught.value)
