"""Atlassian Statuspage: open and update an incident on a hosted status page (REST API v1).

Wire format, as Statuspage documents it (developer.statuspage.io):
- `https://api.statuspage.io/v1/...`, `Authorization: OAuth <api key>`, JSON bodies;
- create `POST /v1/pages/{page_id}/incidents` with `{"incident": {name, status, body,
  impact_override, component_ids, components: {id: component status}, deliver_notifications}}`
  → 201 with the incident (`id`, `name`, `status`, `incident_updates`, …);
- update `PATCH /v1/pages/{page_id}/incidents/{incident_id}` with the fields that change (we
  send `name` each time: the public title may change) → 200;
- `GET /v1/pages/{page_id}/incidents/unresolved` lists open incidents (`page`, `per_page`);
- realtime statuses investigating|identified|monitoring|resolved; impacts none|minor|major|
  critical; component statuses operational|degraded_performance|partial_outage|major_outage|
  under_maintenance; rate limiting answers 420 or 429; errors are `{"error": ...}`.
Statuspage has no idempotency key, so a create retried after a lost answer would open a second
incident: before creating, we look for an unresolved one whose name carries the reference.
"""

from __future__ import annotations

import logging
import re
from typing import Any, get_args
from urllib.parse import quote, urlsplit

import httpx
import orjson

from warroom.core.urls import LOOPBACK
from warroom.notify.ports import DeliveryError
from warroom.notify.statuspage_config import (
    Impact,
    StatuspageConfig,
)
from warroom.notify.webhook import status_error, transport_error

log = logging.getLogger("warroom.notify")

IMPACTS: tuple[str, ...] = get_args(Impact)
STATUSES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = (
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
)
# warroom's lifecycle (docs/incidents.md) in Statuspage's words.
FROM_WARROOM = {
    "detected": "investigating",
    "triaged": "identified",
    "mitigated": "monitoring",
    "resolved": "resolved",
    "closed": "resolved",
}
REFERENCE = re.compile(r"(?<![\w-])INC-\d+(?!\d)")
PER_PAGE = 100
MAX_PAGES = 10  # 1,000 unresolved incidents is far beyond any real page
RATE_LIMITED = 420  # Statuspage's "Enhance Your Calm", alongside 429


class AtlassianStatuspage:
    """Creates and updates incidents on one Statuspage page."""

    def __init__(
        self, config: StatuspageConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self._incidents = f"/v1/pages/{quote(config.page_id)}/incidents"
        loopback = urlsplit(config.base_url).hostname in LOOPBACK
        self._http = httpx.Client(
            base_url=config.base_url,
            headers={
                "Authorization": f"OAuth {config.api_key.get_secret_value()}",
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": "warroom",
            },
            timeout=config.timeout,
            transport=transport,
            trust_env=not loopback,  # a loopback URL (tests, a local relay) never via a proxy
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> AtlassianStatuspage:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def upsert_incident(
        self,
        *,
        provider_id: str | None,
        name: str,
        status: str,
        body: str,
        impact: str,
        components: dict[str, str],
        key: str,
    ) -> str:
        """Create the incident (provider_id None) or add an update; return the incident id."""
        fields: dict[str, Any] = {"status": self._status(status)}
        if body:
            fields["body"] = body
        impact_override = self._impact(impact)
        if impact_override is not None:
            fields["impact_override"] = impact_override
        mapped = self._components(components, resolved=fields["status"] == "resolved")
        if mapped:
            fields["component_ids"] = sorted(mapped)
            fields["components"] = mapped
        fields["deliver_notifications"] = self.config.deliver_notifications
        match = REFERENCE.search(name) or REFERENCE.search(key)
        ref = match.group(0) if match else None
        if ref is None:
            log.warning("status page incident %r carries no INC-n reference", name)
        elif not REFERENCE.search(name):
            name = f"{name} ({ref})"  # so a retried create can find it again
        # Sent on updates too: the public title may have changed since the incident was made.
        fields = {"name": name, **fields}
        if provider_id is None:
            existing = self._find_unresolved(ref) if ref else None
            if existing is None:
                return self._create(fields)
            # A create whose answer was lost (timeout, crash) already made this incident.
            log.info("status page incident for %s exists as %s; updating it", ref, existing)
            provider_id = existing
        return self._update(provider_id, fields)

    # -- mapping -----------------------------------------------------------------------------

    def _status(self, status: str) -> str:
        mapped = FROM_WARROOM.get(status, status)
        if mapped not in STATUSES:
            raise DeliveryError(f"no Statuspage status for {status!r}", permanent=True)
        return mapped

    def _impact(self, impact: str) -> str | None:
        """Return Statuspage's impact for a severity or an impact; None lets it compute one."""
        if impact in self.config.impact_map:
            return self.config.impact_map[impact]
        if impact in IMPACTS:
            return impact
        log.warning("no Statuspage impact for %r; leaving it to Statuspage", impact)
        return None

    def _components(self, components: dict[str, str], *, resolved: bool) -> dict[str, str]:
        """Return {Statuspage component id: status}; unknown ids and statuses are skipped."""
        mapped: dict[str, str] = {}
        for ours, state in components.items():
            theirs = self.config.components.get(ours)
            if theirs is None:
                log.info("component %r has no Statuspage component configured; skipped", ours)
                continue
            if resolved and self.config.operational_on_resolve:
                state = "operational"
            if state not in COMPONENT_STATUSES:
                log.warning("component %r: %r is no Statuspage status; skipped", ours, state)
                continue
            mapped[theirs] = state
        return mapped

    # -- requests ----------------------------------------------------------------------------

    def _find_unresolved(self, ref: str) -> str | None:
        """Return the id of an unresolved incident whose name carries `ref`."""
        for page in range(1, MAX_PAGES + 1):
            params = {"page": page, "per_page": PER_PAGE}
            answer = self._request("GET", f"{self._incidents}/unresolved", params=params)
            if not isinstance(answer, list):
                raise DeliveryError("Statuspage listed unresolved incidents oddly")
            for incident in answer:
                if isinstance(incident, dict) and ref in REFERENCE.findall(
                    str(incident.get("name", ""))
                ):
                    return str(incident["id"])
            if len(answer) < PER_PAGE:
                return None
        return None

    def _create(self, incident: dict[str, Any]) -> str:
        answer = self._request("POST", self._incidents, json_body={"incident": incident})
        return _incident_id(answer)

    def _update(self, provider_id: str, fields: dict[str, Any]) -> str:
        path = f"{self._incidents}/{quote(provider_id, safe='')}"
        answer = self._request("PATCH", path, json_body={"incident": fields})
        return _incident_id(answer, provider_id)

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        content = orjson.dumps(json_body) if json_body is not None else None
        try:
            response = self._http.request(method, path, content=content, params=params)
        except httpx.TransportError as exc:
            raise transport_error(exc, "Statuspage", self.config.timeout) from None
        if 200 <= response.status_code < 300:
            try:
                return response.json()
            except ValueError:
                raise DeliveryError("Statuspage answered with something not JSON") from None
        if response.status_code == RATE_LIMITED:
            raise DeliveryError("Statuspage rate limit (HTTP 420)")
        error = status_error(
            response.status_code, "Statuspage", response.headers.get("Retry-After")
        )
        reason = _reason(response)
        if reason:
            secret = self.config.api_key.get_secret_value()
            error = DeliveryError(
                f"{error}: {reason.replace(secret, '***')}", permanent=error.permanent
            )
        raise error


def _incident_id(answer: Any, fallback: str | None = None) -> str:
    if isinstance(answer, dict) and answer.get("id"):
        return str(answer["id"])
    if fallback is not None:
        return fallback
    raise DeliveryError("Statuspage created an incident but sent no id")


def _reason(response: httpx.Response) -> str:
    """Return Statuspage's error text (`{"error": "..."}` or a list of them), shortened."""
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") or body.get("message") if isinstance(body, dict) else None
    if isinstance(error, list):
        error = "; ".join(str(e) for e in error)
    return str(error)[:300] if error else ""
