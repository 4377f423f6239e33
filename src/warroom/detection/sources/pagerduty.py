"""PagerDuty V3 webhooks (incident triggered / acknowledged / resolved).

What this relies on: PagerDuty's developer docs, "Verifying Signatures" (PagerDuty/developer-docs
`docs/webhooks/04-Signatures.md`): `X-PagerDuty-Signature` holds one or more comma-separated
`v1=<hex HMAC-SHA256 of the raw body>`, one per signing secret while a secret is rotated; a
request is authentic when any one matches. The payload, "Webhooks Overview" (`01-Overview.md`):
one event per delivery as `{"event": {id, event_type, resource_type, occurred_at, agent,
client, data}}`, where `data` of an incident event is the incident (id, number, title, status,
html_url, created_at, urgency, priority{summary}, service{summary}, …).

A delivery is named by its event's `id`: inside the signed body (a replayer cannot change it)
and the same when PagerDuty retries; a body without one is named by its SHA-256.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from warroom.detection.schemas import AlertIn, AlertStatus
from warroom.detection.sources.common import (
    FieldError,
    body_digest,
    cap_raw,
    field_invalid,
    get_object,
    get_str,
    get_time,
    header,
    match_signature,
    parse_object,
    require_str,
)

SOURCE = "pagerduty"
SIGNATURE_HEADER = "X-PagerDuty-Signature"
_MAX_SIGNATURES = 16  # more than rotation ever needs; bounds the work a forged header causes
_EVENTS: dict[str, tuple[AlertStatus, str | None]] = {
    "incident.triggered": ("firing", None),
    # Reopened in PagerDuty means firing again: a new alert episode (and a new incident if
    # warroom's had already been resolved).
    "incident.reopened": ("firing", None),
    "incident.acknowledged": ("firing", "acknowledged"),
    "incident.resolved": ("resolved", None),
}


def verify(body: bytes, headers: Mapping[str, str], secrets: list[str]) -> int | None:
    """Return the index of the secret that signed this request, or None."""
    value = header(headers, SIGNATURE_HEADER)
    if not value:
        return None
    signatures = [
        part.strip()[3:]
        for part in value.split(",")[:_MAX_SIGNATURES]
        if part.strip().startswith("v1=")  # other (future) versions are not ours to check
    ]
    if not signatures:
        return None
    return match_signature(signatures, body, secrets)


def delivery_ids(body: bytes, _headers: Mapping[str, str], _integration: str) -> tuple[str, ...]:
    """Name a delivery by its event's id (signed), so that a replay or a retry changes nothing."""
    # Event ids are PagerDuty-wide; the headers are not signed, so they name nothing here.
    event = parse_object(body).get("event")
    event_id = event.get("id") if isinstance(event, dict) else None
    if isinstance(event_id, str) and event_id.strip():
        return (f"event:{event_id.strip()}",)
    return (body_digest(body),)


def parse(body: bytes) -> list[AlertIn]:
    """Turn a V3 webhook into one alert, or none for event types warroom does not track."""
    payload = parse_object(body)
    try:
        event = get_object(payload, "event", required=True)
        event_type = require_str(event, "event_type", name="event.event_type")
        if event_type not in _EVENTS:
            return []  # accepted and ignored: pings, notes, service changes, …
        return [_incident(event, event_type)]
    except FieldError as exc:
        raise field_invalid(exc) from None


def _incident(event: dict[str, Any], event_type: str) -> AlertIn:
    status, note = _EVENTS[event_type]
    data = get_object(event, "data", required=True, name="event.data")
    incident_id = require_str(data, "id", name="event.data.id")
    priority = get_object(data, "priority", name="event.data.priority")
    service = get_object(data, "service", name="event.data.service")
    urgency = get_str(data, "urgency", name="event.data.urgency")
    priority_name = get_str(priority, "summary", name="event.data.priority.summary")
    labels = {
        key: value
        for key, value in (
            ("service", get_str(service, "summary", name="event.data.service.summary")),
            ("urgency", urgency),
            ("priority", priority_name),
        )
        if value is not None
    }
    html_url = get_str(data, "html_url", name="event.data.html_url")
    occurred = get_time(event, "occurred_at", name="event.occurred_at")
    return AlertIn(
        source=SOURCE,
        fingerprint=f"pagerduty:{incident_id}",
        status=status,
        labels=labels,
        title=get_str(data, "title", name="event.data.title"),
        summary=get_str(data, "description", name="event.data.description"),
        severity=priority_name or urgency,
        starts_at=get_time(data, "created_at", name="event.data.created_at"),
        ends_at=occurred if status == "resolved" else None,
        links=[{"title": "PagerDuty incident", "url": html_url}] if html_url else [],
        event=note,
        raw=cap_raw(event),
    )
