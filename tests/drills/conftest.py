"""A set-up for drills: a service with a real rotation, and every outside channel configured."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.notify.fakes import FakeTracker


def drill_settings(**drills: Any) -> dict[str, Any]:
    """alice is primary on call for checkout, bob secondary; carol opted in to drills."""
    return {
        "people": [
            {"id": "alice", "name": "Alice", "email": "alice@example.com", "slack": "UALICE1"},
            {"id": "bob", "name": "Bob", "email": "bob@example.com", "slack": "UBOB1"},
            {"id": "carol", "name": "Carol", "email": "carol@example.com", "slack": "UCAROL1"},
        ],
        "teams": [{"id": "payments", "members": ["alice", "bob"], "leads": ["bob"]}],
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
        "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
        "routes": [
            {"match": ['severity="SEV-1"'], "severity": "SEV-1"},
            {"match": ['alertname=~".+"'], "severity": "SEV-2"},
        ],
        "integrations": {
            # Never contacted: the runtime's adapters are the recording fakes.
            "pagerduty_events": {"routing_key": "R" * 32},
            "statuspage": {"api_key": "k" * 20, "page_id": "page01", "components": {}},
            "outgoing_webhooks": [
                {"name": "ops", "url": "http://127.0.0.1:9/hook", "secret": "s" * 32}
            ],
            "jira_issues": {
                "base_url": "http://127.0.0.1:9",
                "deployment": "cloud",
                "email": "bot@example.com",
                "api_token": "t" * 20,
                "project": "OPS",
            },
        },
        "notifications": {
            "announce_channel": "#incident-response",
            "executives": ["cto@example.com"],
            "rate_limits": {"person": {"count": 100, "per": "1m"}},
        },
        "drills": drills,
    }


@pytest.fixture
def config() -> WarroomConfig:
    """Drills page the real rotation (the default)."""
    return WarroomConfig.model_validate(drill_settings())


@pytest.fixture
def tracked(fakes: Fakes) -> FakeTracker:
    """Add a recording issue tracker to the fakes (Jira)."""
    tracker = FakeTracker()
    fakes.adapters.tracker = tracker
    return tracker


def start(api: TestClient, **body: Any) -> Any:
    """Start a drill over the API; return its JSON."""
    answer = api.post("/api/v1/drills", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()
