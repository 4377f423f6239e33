"""PagerDuty V3 webhooks: `v1=` signatures (with rotation) and incident events."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from warroom.core.errors import Invalid
from warroom.detection.sources import pagerduty

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pagerduty"


def fixture(name: str) -> bytes:
    """Return a hand-written PagerDuty payload."""
    return (FIXTURES / name).read_bytes()


def sig(secret: str, body: bytes) -> str:
    """Return one `v1=` signature as PagerDuty computes it."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


BODY = fixture("incident_triggered.json")


def test_single_signature() -> None:
    headers = {"X-PagerDuty-Signature": sig("s3cret", BODY)}
    assert pagerduty.verify(BODY, headers, ["s3cret"]) == 0


def test_rotation_second_signature_matches() -> None:
    # PagerDuty signs with the old and the new secret; warroom knows only the new one.
    header = f"{sig('retired', BODY)},{sig('current', BODY)}"
    assert pagerduty.verify(BODY, {"x-pagerduty-signature": header}, ["current"]) == 0
    assert pagerduty.verify(BODY, {"x-pagerduty-signature": header}, ["other", "current"]) == 1
    spaced = f"{sig('retired', BODY)}, {sig('current', BODY)}"
    assert pagerduty.verify(BODY, {"X-PagerDuty-Signature": spaced}, ["current"]) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-PagerDuty-Signature": ""},
        {"X-PagerDuty-Signature": sig("wrong", BODY)},
        {"X-PagerDuty-Signature": sig("s3cret", BODY)[3:]},  # no v1= prefix
        {"X-PagerDuty-Signature": "v2=" + sig("s3cret", BODY)[3:]},
        {"X-PagerDuty-Signature": "v1=zz,v1="},
    ],
)
def test_rejected_signatures(headers: dict[str, str]) -> None:
    assert pagerduty.verify(BODY, headers, ["s3cret"]) is None


def test_tampered_body() -> None:
    headers = {"X-PagerDuty-Signature": sig("s3cret", BODY)}
    assert pagerduty.verify(BODY.replace(b"P1", b"P5"), headers, ["s3cret"]) is None


def test_triggered() -> None:
    [alert] = pagerduty.parse(BODY)
    assert alert.source == "pagerduty"
    assert alert.fingerprint == "pagerduty:Q2AB1CDEF3GH45"
    assert alert.status == "firing"
    assert alert.event is None
    assert alert.title == "Checkout API returns 502 for 20% of requests"
    assert alert.severity == "P1"
    assert alert.labels == {"service": "Checkout API", "urgency": "high", "priority": "P1"}
    assert alert.links == [
        {
            "title": "PagerDuty incident",
            "url": "https://acme.pagerduty.com/incidents/Q2AB1CDEF3GH45",
        }
    ]
    assert alert.starts_at == datetime(2026, 3, 2, 9, 0, 4, tzinfo=UTC)
    assert alert.ends_at is None
    assert alert.raw["id"] == "01DEN2GW9KB4S3R5TJ6Z8Y0A1B"


def test_acknowledged_without_priority_uses_urgency() -> None:
    [alert] = pagerduty.parse(fixture("incident_acknowledged.json"))
    assert alert.fingerprint == "pagerduty:Q2AB1CDEF3GH45"
    assert alert.status == "firing"
    assert alert.event == "acknowledged"
    assert alert.severity == "low"
    assert "priority" not in alert.labels


def test_resolved() -> None:
    [alert] = pagerduty.parse(fixture("incident_resolved.json"))
    assert alert.fingerprint == "pagerduty:Q2AB1CDEF3GH45"
    assert alert.status == "resolved"
    assert alert.ends_at == datetime(2026, 3, 2, 9, 41, 12, 500000, UTC)


@pytest.mark.parametrize("event_type", ["service.updated", "incident.annotated", "pagey.ping"])
def test_other_event_types_are_ignored(event_type: str) -> None:
    payload = json.loads(fixture("service_updated.json"))
    payload["event"]["event_type"] = event_type
    assert pagerduty.parse(json.dumps(payload).encode()) == []


def test_reopened_is_firing_again() -> None:
    payload = json.loads(fixture("incident_triggered.json"))
    payload["event"]["event_type"] = "incident.reopened"
    [alert] = pagerduty.parse(json.dumps(payload).encode())
    assert alert.status == "firing" and alert.event is None


def _triggered() -> dict[str, Any]:
    return dict(json.loads(BODY))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.pop("event"), "^event is required$"),
        (lambda p: p.update(event=[]), "^event must be an object, not an array$"),
        (lambda p: p["event"].pop("event_type"), "^event.event_type is required$"),
        (lambda p: p["event"].pop("data"), "^event.data is required$"),
        (lambda p: p["event"]["data"].pop("id"), "^event.data.id is required$"),
        (lambda p: p["event"]["data"].update(title=3), "^event.data.title must be a string"),
        (lambda p: p["event"]["data"].update(priority="P1"), "^event.data.priority must be an"),
        (
            lambda p: p["event"]["data"].update(created_at="today"),
            "^event.data.created_at is not a valid time$",
        ),
    ],
)
def test_wrong_schema(mutate: Any, message: str) -> None:
    payload = _triggered()
    mutate(payload)
    with pytest.raises(Invalid, match=message):
        pagerduty.parse(json.dumps(payload).encode())


def test_malformed_json() -> None:
    with pytest.raises(Invalid, match="malformed JSON"):
        pagerduty.parse(BODY[:100])
