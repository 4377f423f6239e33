"""PagerDuty Events API v2, over a real socket to a loopback fake of `POST /v2/enqueue`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import free_port
from tests.notify.pagerduty_events_server import ROUTING_KEY, PagerDutyEventsServer
from warroom.notify.pagerduty import PagerDutyEvents
from warroom.notify.pagerduty_config import PagerDutyEventsConfig
from warroom.notify.ports import DeliveryError, Pager

LINKS = [{"href": "https://warroom.example.com/incidents/42", "text": "INC-42 in warroom"}]


@pytest.fixture
def server() -> Iterator[PagerDutyEventsServer]:
    with PagerDutyEventsServer() as fake:
        yield fake


def make_config(url: str, **overrides: Any) -> PagerDutyEventsConfig:
    return PagerDutyEventsConfig.model_validate(
        {"routing_key": ROUTING_KEY, "url": url, **overrides}
    )


@pytest.fixture
def pager(server: PagerDutyEventsServer) -> Iterator[PagerDutyEvents]:
    with PagerDutyEvents(make_config(server.url, timeout=10)) as adapter:
        yield adapter


def trigger(pager: Pager, dedup_key: str = "INC-42", **kw: Any) -> str:
    arguments: dict[str, Any] = {
        "summary": "[SEV-1] Checkout down",
        "severity": "SEV-1",
        "source": "checkout",
        "links": LINKS,
        "details": {"commander": "alice", "status": "detected"},
    }
    return pager.event(action="trigger", dedup_key=dedup_key, **{**arguments, **kw})


def settle(pager: Pager, action: Any, dedup_key: str = "INC-42") -> str:
    return pager.event(action=action, dedup_key=dedup_key, summary="", severity="", source="")


def test_trigger_sends_the_documented_event(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    assert trigger(pager) == "INC-42"

    ((method, path, headers, raw),) = server.requests
    assert (method, path) == ("POST", "/v2/enqueue")
    assert headers["content-type"] == "application/json"
    assert "authorization" not in headers  # the routing key in the body is the credential
    assert json.loads(raw) == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "INC-42",
        "payload": {
            "summary": "[SEV-1] Checkout down",
            "source": "checkout",
            "severity": "critical",
            "custom_details": {"commander": "alice", "status": "detected"},
        },
        "links": LINKS,
        "client": "warroom",
        "client_url": LINKS[0]["href"],
    }
    assert server.state("INC-42") == "triggered"


def test_acknowledge_and_resolve_carry_no_payload(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    trigger(pager)
    assert settle(pager, "acknowledge") == "INC-42"
    assert server.state("INC-42") == "acknowledged"
    assert settle(pager, "resolve") == "INC-42"
    assert server.state("INC-42") == "resolved"
    for event in server.events[1:]:
        assert set(event) == {"routing_key", "event_action", "dedup_key"}
    assert server.alerts["INC-42"].log == ["trigger", "acknowledge", "resolve"]


def test_acknowledging_an_unknown_key_is_accepted_and_ignored(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    assert settle(pager, "acknowledge", "INC-7") == "INC-7"
    assert server.state("INC-7") is None


def test_a_retried_trigger_is_deduplicated_by_pagerduty(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    trigger(pager)
    trigger(pager)
    assert list(server.alerts) == ["INC-42"]
    assert server.alerts["INC-42"].log == ["trigger", "trigger"]


def test_long_summaries_are_cut_to_pagerdutys_limit(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    trigger(pager, summary="x" * 5000)
    summary = server.events[0]["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("…")


def test_severity_mapping(server: PagerDutyEventsServer) -> None:
    config = make_config(server.url, severity_map={"SEV-1": "critical", "SEV-2": "critical"})
    with PagerDutyEvents(config) as pager:
        trigger(pager, "INC-1", severity="SEV-2")
        trigger(pager, "INC-2", severity="warning")  # PagerDuty's own word passes through
        trigger(pager, "INC-3", severity="SEV-9")  # unknown: a middling "error"
    assert [e["payload"]["severity"] for e in server.events] == ["critical", "warning", "error"]


def test_links_accept_url_and_title_and_drop_empty_ones(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    trigger(pager, links=[{"url": "https://grafana.example.com/d/1", "title": "Dashboard"}, {}])
    assert server.events[0]["links"] == [
        {"href": "https://grafana.example.com/d/1", "text": "Dashboard"}
    ]


def test_configured_client_url_and_default_source(server: PagerDutyEventsServer) -> None:
    config = make_config(
        server.url, client_url="https://warroom.example.com", source="warroom-prod"
    )
    with PagerDutyEvents(config) as pager:
        trigger(pager, source="", links=[])
    event = server.events[0]
    assert event["client_url"] == "https://warroom.example.com"
    assert event["payload"]["source"] == "warroom-prod"
    assert event["links"] == []


def test_which_severities_page() -> None:
    everything = make_config("https://events.pagerduty.com")
    assert everything.sends("SEV-4")
    chosen = make_config("https://events.pagerduty.com", severities=["SEV-1", "SEV-2"])
    assert chosen.sends("SEV-2") and not chosen.sends("SEV-3")


# -- failures --------------------------------------------------------------------------------


def test_an_unknown_routing_key_is_a_permanent_error(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    server.routing_keys = {"Z" * 32}  # a key of the right length that PagerDuty does not know
    with pytest.raises(DeliveryError) as caught:
        trigger(pager)
    assert caught.value.permanent
    assert "Invalid routing key" in str(caught.value)
    assert ROUTING_KEY not in str(caught.value)


def test_a_refused_event_is_permanent_and_names_the_reason(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    server.routing_keys = set()  # PagerDuty answers 400 invalid event
    with pytest.raises(DeliveryError, match="refused the resolve event for INC-42") as caught:
        settle(pager, "resolve")
    assert caught.value.permanent and ROUTING_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (429, False),
        (500, False),
        (502, False),
        (503, False),
        (408, False),
        (401, True),
        (403, True),
        (404, True),
        (413, True),
    ],
)
def test_error_statuses(
    server: PagerDutyEventsServer, pager: PagerDutyEvents, status: int, permanent: bool
) -> None:
    server.fail(status=status, times=1, retry_after=5 if status == 429 else None)
    with pytest.raises(DeliveryError) as caught:
        trigger(pager)
    assert caught.value.permanent is permanent
    assert f"HTTP {status}" in str(caught.value) and ROUTING_KEY not in str(caught.value)
    assert server.events == []
    assert trigger(pager) == "INC-42"  # the outbox's retry gets through


def test_throttling_reports_retry_after(
    server: PagerDutyEventsServer, pager: PagerDutyEvents
) -> None:
    server.fail(status=429, times=1, retry_after=7)
    with pytest.raises(DeliveryError, match="Retry-After 7"):
        trigger(pager)


def test_a_hanging_pagerduty_is_a_temporary_timeout(server: PagerDutyEventsServer) -> None:
    server.hang(5.0)
    pager = PagerDutyEvents(make_config(server.url, timeout=0.2))
    with pager, pytest.raises(DeliveryError, match=r"did not answer within 0\.2 s") as caught:
        trigger(pager)
    server.recover()
    assert not caught.value.permanent and ROUTING_KEY not in str(caught.value)


def test_nothing_listening_is_temporary() -> None:
    pager = PagerDutyEvents(make_config(f"http://127.0.0.1:{free_port()}"))
    with pager, pytest.raises(DeliveryError, match="could not reach") as caught:
        trigger(pager)
    assert not caught.value.permanent and ROUTING_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("action", "dedup_key"), [("trigger", ""), ("trigger", "k" * 256), ("escalate", "INC-1")]
)
def test_bad_events_are_refused_before_sending(
    server: PagerDutyEventsServer, pager: PagerDutyEvents, action: Any, dedup_key: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        pager.event(action=action, dedup_key=dedup_key, summary="s", severity="SEV-1", source="x")
    assert caught.value.permanent
    assert server.requests == []


# -- configuration ---------------------------------------------------------------------------


def test_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_ROUTING_KEY", ROUTING_KEY)
    config = PagerDutyEventsConfig.model_validate({"routing_key": "env:PD_ROUTING_KEY"})
    assert config.url == "https://events.pagerduty.com"
    assert config.timeout == 10.0
    assert config.severity_map == {
        "SEV-1": "critical",
        "SEV-2": "error",
        "SEV-3": "warning",
        "SEV-4": "info",
    }
    assert config.severities is None
    assert ROUTING_KEY not in repr(config)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"routing_key": "too-short-key"}, "32-character"),
        ({"url": "http://events.pagerduty.com"}, "must be https://"),
        ({"severity_map": {"SEV-1": "disaster"}}, "severity_map.SEV-1"),
        ({"timeout": -1}, "timeout"),
        ({"service_key": "x"}, "service_key"),
    ],
)
def test_config_refuses_bad_input(override: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PagerDutyEventsConfig.model_validate({"routing_key": ROUTING_KEY, **override})
    text = str(caught.value)
    assert message in text
    assert ROUTING_KEY not in text and "too-short-key" not in text
