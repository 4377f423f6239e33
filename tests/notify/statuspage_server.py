"""A loopback stand-in for Atlassian Statuspage's REST API v1 incidents, as Statuspage documents it.

It checks `Authorization: OAuth <key>` (401 otherwise) and the page id (404), refuses unknown
statuses, impacts, component ids and component statuses with 422 `{"error": [...]}`, keeps each
incident with its updates and the page's component statuses, lists unresolved incidents newest
first with `page`/`per_page`, and records every request. `.fail()`, `.hang()` (with
`process=True`: the incident is made but the answer is lost) and `.recover()` come from
`LoopbackServer`.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.notify.webhook_receiver import Answer, LoopbackServer, json_answer

API_KEY = "sp-0123456789abcdef0123456789abcdef"
PAGE_ID = "pg1abc2def3gh"
COMPONENTS = ("cmpcheckout01", "cmpapi0000002", "cmpsearch0003")
STATUSES = {"investigating", "identified", "monitoring", "resolved"}
IMPACTS = {"none", "minor", "major", "critical"}
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class StatuspageServer(LoopbackServer):
    """Statuspage's incidents API for one page on 127.0.0.1."""

    def __init__(
        self,
        api_key: str = API_KEY,
        page_id: str = PAGE_ID,
        components: tuple[str, ...] = COMPONENTS,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.page_id = page_id
        self.component_status = dict.fromkeys(components, "operational")
        self.incidents: dict[str, dict[str, Any]] = {}  # by id, in creation order
        self.requests: list[Recorded] = []
        self._ids = itertools.count(1)

    def __enter__(self) -> StatuspageServer:
        self.start()
        return self

    @property
    def url(self) -> str:
        """The base URL to configure."""
        return self.base_url

    def failure(self, status: int) -> Answer:
        """Statuspage's error shape."""
        return json_answer(status, {"error": "injected failure"})

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Route one request."""
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = body
        with self._lock:
            self.requests.append(Recorded(method, parts.path, query, headers, data))
        if headers.get("authorization") != f"OAuth {self.api_key}":
            return json_answer(401, {"error": "Could not authenticate"})
        segments = parts.path.strip("/").split("/")
        if segments[:2] != ["v1", "pages"] or len(segments) < 4 or segments[3] != "incidents":
            return json_answer(404, {"error": "Not found"})
        if segments[2] != self.page_id:
            return json_answer(404, {"error": "The page could not be found"})
        if method in ("POST", "PATCH"):
            content_type = headers.get("content-type", "").split(";")[0].strip()
            if content_type != "application/json" or not isinstance(data, dict):
                return json_answer(400, {"error": "Send a JSON body"})
            if not isinstance(data.get("incident"), dict):
                return json_answer(400, {"error": "incident is missing"})
        rest = segments[4:]
        with self._lock:
            if method == "GET" and rest == ["unresolved"]:
                return self._unresolved(query)
            if method == "POST" and not rest:
                return self._create(data["incident"])  # type: ignore[index]
            if method == "PATCH" and len(rest) == 1:
                return self._update(rest[0], data["incident"])  # type: ignore[index]
        return json_answer(405, {"error": f"{method} is not allowed here"})

    # -- endpoints ---------------------------------------------------------------------------

    def _unresolved(self, query: dict[str, list[str]]) -> Answer:
        page = int(query.get("page", ["1"])[0])
        per_page = min(int(query.get("per_page", ["100"])[0]), 100)
        open_ = [i for i in reversed(self.incidents.values()) if i["status"] != "resolved"]
        return json_answer(200, open_[(page - 1) * per_page : page * per_page])

    def _create(self, fields: dict[str, Any]) -> Answer:
        errors = self._check(fields)
        if not fields.get("name"):
            errors.append("name can't be blank")
        if errors:
            return json_answer(422, {"error": errors})
        now = _now()
        incident: dict[str, Any] = {
            "id": f"sp{next(self._ids):010d}",
            "page_id": self.page_id,
            "name": fields["name"],
            "status": fields.get("status", "investigating"),
            "impact": fields.get("impact_override", "none"),
            "created_at": now,
            "resolved_at": None,
            "incident_updates": [],
            "components": [],
        }
        self.incidents[incident["id"]] = incident
        self._apply(incident, fields, now)
        return json_answer(201, incident)

    def _update(self, incident_id: str, fields: dict[str, Any]) -> Answer:
        incident = self.incidents.get(incident_id)
        if incident is None:
            return json_answer(404, {"error": "Incident could not be found"})
        errors = self._check(fields)
        if "name" in fields and not fields["name"]:
            errors.append("name can't be blank")
        if errors:
            return json_answer(422, {"error": errors})
        self._apply(incident, fields, _now())
        return json_answer(200, incident)

    def _check(self, fields: dict[str, Any]) -> list[str]:
        errors = []
        if "status" in fields and fields["status"] not in STATUSES:
            errors.append(f"status {fields['status']!r} is not a realtime incident status")
        if "impact_override" in fields and fields["impact_override"] not in IMPACTS:
            errors.append(f"impact_override {fields['impact_override']!r} is invalid")
        components = fields.get("components", {})
        if not isinstance(components, dict):
            return [*errors, "components must be an object"]
        for component_id in [*fields.get("component_ids", []), *components]:
            if component_id not in self.component_status:
                errors.append(f"component {component_id!r} is not on this page")
        for status in components.values():
            if status not in COMPONENT_STATUSES:
                errors.append(f"component status {status!r} is invalid")
        return errors

    def _apply(self, incident: dict[str, Any], fields: dict[str, Any], now: str) -> None:
        if "name" in fields:
            incident["name"] = fields["name"]
        if "impact_override" in fields:
            incident["impact"] = fields["impact_override"]
        if "status" in fields:
            incident["status"] = fields["status"]
            incident["resolved_at"] = now if fields["status"] == "resolved" else None
        for component_id, status in fields.get("components", {}).items():
            self.component_status[component_id] = status
        affected = set(fields.get("component_ids", [])) | set(fields.get("components", {}))
        known = {c["id"] for c in incident["components"]}
        for component_id in sorted(affected - known):
            incident["components"].append({"id": component_id})
        for component in incident["components"]:
            component["status"] = self.component_status[component["id"]]
        if "status" in fields or fields.get("body"):
            update = {
                "id": f"upd{len(incident['incident_updates']) + 1}",
                "status": incident["status"],
                "body": fields.get("body", ""),
                "created_at": now,
                "deliver_notifications": fields.get("deliver_notifications", True),
            }
            incident["incident_updates"].insert(0, update)  # newest first, as Statuspage lists

    def updates(self, incident_id: str) -> list[dict[str, Any]]:
        """Return an incident's updates, oldest first."""
        with self._lock:
            return list(reversed(self.incidents[incident_id]["incident_updates"]))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
