"""PagerDuty Events API v2: trigger, acknowledge and resolve a PagerDuty alert for an incident.

Wire format, as PagerDuty documents it ("Send an Alert Event", Events API v2):
- `POST https://events.pagerduty.com/v2/enqueue`, JSON, no auth header: the 32-character
  `routing_key` (a service's Events API v2 integration key) in the body authorises the event;
- `event_action` trigger|acknowledge|resolve and a `dedup_key` (≤ 255 chars) naming the alert;
  a trigger carries `payload` {summary ≤ 1024, source, severity critical|error|warning|info,
  custom_details} plus `links`, `client`, `client_url`; acknowledge and resolve carry no payload;
- 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}`;
  400 `{"status": "invalid event", "message", "errors": [...]}`; 429 when throttled; 5xx.
The dedup key makes a retried trigger harmless: PagerDuty adds it to the open alert's log.
This is outgoing paging; PagerDuty as an on-call source and as an alert intake live in
`warroom.oncall.pagerduty` and `warroom.detection`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from warroom.core.urls import LOOPBACK
from warroom.notify.pagerduty_config import (
    PagerDutyEventsConfig,
)
from warroom.notify.ports import DeliveryError, PagerAction
from warroom.notify.webhook import status_error, transport_error

MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


def _links(links: list[dict[str, str]]) -> list[dict[str, str]]:
    """Return PagerDuty `links` ({href, text}); {url, title} is accepted too."""
    result = []
    for link in links:
        href = link.get("href") or link.get("url")
        if not href:
            continue
        result.append({"href": href, "text": link.get("text") or link.get("title") or href})
    return result


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class PagerDutyEvents:
    """Sends Events API v2 events to one PagerDuty service."""

    def __init__(
        self, config: PagerDutyEventsConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self._endpoint = f"{config.url}/v2/enqueue"
        self._where = config.url
        loopback = urlsplit(config.url).hostname in LOOPBACK
        self._http = httpx.Client(
            headers={"User-Agent": "warroom", "Content-Type": "application/json"},
            timeout=config.timeout,
            transport=transport,
            trust_env=not loopback,  # a loopback URL (tests, a local relay) never via a proxy
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> PagerDutyEvents:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def event(
        self,
        *,
        action: PagerAction,
        dedup_key: str,
        summary: str,
        severity: str,
        source: str,
        links: list[dict[str, str]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Send one event; return the dedup key PagerDuty answered with."""
        if action not in ("trigger", "acknowledge", "resolve"):
            raise DeliveryError(f"unknown PagerDuty event_action {action!r}", permanent=True)
        if not dedup_key or len(dedup_key) > MAX_DEDUP_KEY:
            raise DeliveryError(f"dedup_key must be 1-{MAX_DEDUP_KEY} characters", permanent=True)
        event: dict[str, Any] = {
            "routing_key": self.config.routing_key.get_secret_value(),
            "event_action": action,
            "dedup_key": dedup_key,
        }
        if action == "trigger":
            # PagerDuty reads payload, links and client only on trigger events.
            event["payload"] = {
                "summary": _truncate(summary or dedup_key, MAX_SUMMARY),
                "source": source or self.config.source,
                "severity": self.config.pd_severity(severity),
                "custom_details": details or {},
            }
            event["links"] = _links(links or [])
            event["client"] = "warroom"
            client_url = self.config.client_url or next(
                (link["href"] for link in event["links"]), None
            )
            if client_url:
                event["client_url"] = client_url
        return self._send(event, dedup_key)

    def _send(self, event: dict[str, Any], dedup_key: str) -> str:
        raw = orjson.dumps(event, default=str)
        try:
            response = self._http.post(self._endpoint, content=raw)
        except httpx.TransportError as exc:
            raise transport_error(exc, self._where, self.config.timeout) from None
        if 200 <= response.status_code < 300:  # PagerDuty answers 202
            answer = _json(response)
            answered = answer.get("dedup_key")
            return answered if isinstance(answered, str) and answered else dedup_key
        error = status_error(
            response.status_code, f"PagerDuty {self._where}", response.headers.get("Retry-After")
        )
        if response.status_code == 400:
            reasons = _json(response).get("errors") or []
            text = "; ".join(str(r) for r in reasons)[:500] if isinstance(reasons, list) else ""
            error = DeliveryError(
                f"PagerDuty refused the {event['event_action']} event for {dedup_key}: "
                + self._scrub(text or "invalid event"),
                permanent=True,
            )
        raise error

    def _scrub(self, text: str) -> str:
        """Remove the routing key should PagerDuty ever echo it in an error."""
        return text.replace(self.config.routing_key.get_secret_value(), "***")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
