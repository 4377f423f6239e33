"""A loopback stand-in for PagerDuty's Events API v2 (`POST /v2/enqueue`), as documented.

It refuses what PagerDuty refuses with `400 {"status": "invalid event", "message": "Event
object is invalid", "errors": [...]}` — a routing key that is not 32 characters or not one of
its integrations, an unknown `event_action`, a trigger without `payload.summary`/`source`/
`severity`, a summary over 1024 characters, a dedup key over 255 — answers `202` with the dedup
key, and keeps each alert's state as PagerDuty does: trigger opens it (or adds to the open
one), acknowledge and resolve move it on, and for an unknown or resolved key they are accepted
and ignored. `.fail()`, `.hang()` and `.recover()` come from `LoopbackServer`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.notify.webhook_receiver import Answer, LoopbackServer, json_answer

ROUTING_KEY = "R0123456789abcdef0123456789abcde"  # 32 characters, like an integration key
SEVERITIES = {"critical", "error", "warning", "info"}
ACTIONS = {"trigger", "acknowledge", "resolve"}


@dataclass
class Alert:
    """A PagerDuty alert, by dedup key."""

    status: str  # triggered | acknowledged | resolved
    summary: str
    severity: str
    log: list[str] = field(default_factory=list)  # the event actions PagerDuty applied


class PagerDutyEventsServer(LoopbackServer):
    """PagerDuty's Events API v2 on 127.0.0.1; `routing_keys` are its integrations."""

    def __init__(self, routing_keys: tuple[str, ...] = (ROUTING_KEY,)) -> None:
        super().__init__()
        self.routing_keys = set(routing_keys)
        self.events: list[dict[str, Any]] = []  # every accepted event, as sent
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.alerts: dict[str, Alert] = {}

    def __enter__(self) -> PagerDutyEventsServer:
        self.start()
        return self

    @property
    def url(self) -> str:
        """The base URL to configure (the adapter appends /v2/enqueue)."""
        return self.base_url

    def failure(self, status: int) -> Answer:
        """PagerDuty's throttling answer for 429; a bare error otherwise."""
        if status == 429:
            return json_answer(429, {"status": "throttle event", "message": "Too many requests"})
        return json_answer(status, {"status": "error", "message": "Internal Server Error"})

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Validate and apply one event."""
        with self._lock:
            self.requests.append((method, path, headers, body))
        if method != "POST" or path != "/v2/enqueue":
            return json_answer(404, {"status": "error", "message": "Not Found"})
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return _invalid("Content-Type must be application/json")
        try:
            event = json.loads(body)
        except ValueError:
            return _invalid("Event object is not valid JSON")
        if not isinstance(event, dict):
            return _invalid("Event object must be a JSON object")
        errors = _check(event)
        if not errors and event["routing_key"] not in self.routing_keys:
            errors = ["Invalid routing key"]
        if errors:
            return _invalid(*errors)
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        with self._lock:
            self.events.append(event)
            self._apply(event, dedup_key)
        message = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        return json_answer(202, message)

    def _apply(self, event: dict[str, Any], dedup_key: str) -> None:
        action = event["event_action"]
        alert = self.alerts.get(dedup_key)
        if action == "trigger":
            payload = event["payload"]
            if alert is None or alert.status == "resolved":
                self.alerts[dedup_key] = Alert("triggered", payload["summary"], payload["severity"])
                alert = self.alerts[dedup_key]
            alert.log.append("trigger")  # a repeated trigger is deduplicated into the open alert
        elif alert is None or alert.status == "resolved":
            return  # acknowledge/resolve of an unknown or closed alert: accepted, ignored
        elif action == "acknowledge":
            alert.status = "acknowledged"
            alert.log.append(action)
        else:
            alert.status = "resolved"
            alert.log.append(action)

    def state(self, dedup_key: str) -> str | None:
        """Return the alert's status, or None when PagerDuty has none."""
        with self._lock:
            alert = self.alerts.get(dedup_key)
            return alert.status if alert else None


def _check(event: dict[str, Any]) -> list[str]:
    errors = []
    key = event.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append("'dedup_key' is missing and is required for acknowledge and resolve")
    if action == "trigger":
        payload = event.get("payload")
        if not isinstance(payload, dict):
            return [*errors, "'payload' is missing or not an object"]
        for name in ("summary", "source", "severity"):
            if not payload.get(name):
                errors.append(f"'payload.{name}' is missing or blank")
        if len(str(payload.get("summary", ""))) > 1024:
            errors.append("'payload.summary' must be at most 1024 characters")
        if payload.get("severity") and payload["severity"] not in SEVERITIES:
            errors.append("'payload.severity' is invalid (critical, error, warning, info)")
        links = event.get("links", [])
        if not isinstance(links, list) or any(
            not isinstance(link, dict) or "href" not in link for link in links
        ):
            errors.append("'links' must be a list of objects with an 'href'")
    return errors


def _invalid(*errors: str) -> Answer:
    body = {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)}
    return json_answer(400, body)
