"""Shared pieces of the alerts table: open-row filters, names, and row values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from warroom.detection.models import Alert
from warroom.detection.schemas import RAW_LIMIT, AlertIn, RouteDecision

# Written exactly like the partial indexes' WHERE clause: SQLite only uses a partial index
# when the query repeats that term verbatim (`is_open = 1` or `IS 1` scan the table).
ALERT_IS_OPEN = text("alerts.is_open")
GROUP_IS_OPEN = text("alert_groups.is_open")
SOURCE_NAMES = {
    "alertmanager": "Alertmanager",
    "grafana": "Grafana",
    "pagerduty": "PagerDuty",
    "jira": "Jira",
    "slack": "Slack",
    "webhook": "Webhook",
    "web": "Web form",
    "drill": "Drill",
}


CHUNK = 400  # rows per INSERT (SQLite allows 32,766 bound values per statement)


def insert_for(session: Session) -> Any:
    """Return the dialect's INSERT construct (both support ON CONFLICT … WHERE)."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def built_once(build: Callable[[Any], Any]) -> Callable[[Session], Any]:
    """Build a dialect's statement once, from its INSERT construct: on the intake's path,
    constructing a statement costs more than SQLite takes to run it (bound values vary)."""
    built: dict[str, Any] = {}

    def statement(session: Session) -> Any:
        name = session.get_bind().dialect.name
        if name not in built:
            built[name] = build(insert_for(session))
        return built[name]

    return statement


def new_alerts(session: Session) -> Any:
    """Return the INSERT of new open alerts that skips any another writer has opened
    (executemany form; returns the id and fingerprint of each row inserted)."""
    return _new_alerts(session)


def alert_row(
    alert: AlertIn,
    decision: RouteDecision,
    *,
    integration: str,
    key: str,
    now: datetime,
    incident_id: int | None,
) -> dict[str, Any]:
    """Return the values of a new open alert (of `incident_id`, if known already)."""
    return {
        "source": alert.source,
        "integration": integration,
        "kind": alert.kind,
        "fingerprint": alert.fingerprint,
        "status": "firing",
        "is_open": True,
        "title": alert_title(alert, decision),
        "severity": decision.severity,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at,
        "ends_at": None,
        "generator_url": alert.generator_url,
        "group_key": key,
        "received_at": now,
        "last_seen_at": now,
        "seen_count": 1,
        "incident_id": incident_id,
        "silence_id": None,
        "raw": capped_raw(alert),
    }


def alert_title(alert: AlertIn, decision: RouteDecision) -> str:
    """Return the alert's title: the route's template, the source's title, or alertname."""
    title = decision.title or alert.title or alert.labels.get("alertname")
    title = " ".join((title or f"{SOURCE_NAMES.get(alert.source, alert.source)} alert").split())
    return title[:200]


def incident_summary(alert: AlertIn) -> str:
    """Return the summary a new incident gets from its first alert (text and links)."""
    parts = [alert.summary or ""]
    if alert.generator_url:
        parts.append(f"Source: {alert.generator_url}")
    runbook = alert.annotations.get("runbook_url")
    if runbook and not any(link.get("url") == runbook for link in alert.links):
        parts.append(f"Runbook: {runbook}")
    parts += [f"{link.get('title') or 'Link'}: {link.get('url')}" for link in alert.links]
    return "\n\n".join(p for p in parts if p)[:20_000]


def capped_raw(alert: AlertIn) -> str:
    """Return the alert's own JSON, cut to RAW_LIMIT bytes."""
    try:  # orjson: the stdlib's encoder was a tenth of a storm's intake
        encoded = orjson.dumps(alert.raw, default=str)
    except (TypeError, orjson.JSONEncodeError):  # an integer past 64 bits, say
        encoded = json.dumps(alert.raw, default=str, ensure_ascii=False).encode()
    if len(encoded) <= RAW_LIMIT:
        return encoded.decode()
    return json.dumps({"truncated": True, "head": encoded.decode()[: RAW_LIMIT // 2]})


_ALERTS = cast(Table, Alert.__table__)
_new_alerts = built_once(
    lambda insert: (
        insert(_ALERTS)
        .on_conflict_do_nothing(
            index_elements=["fingerprint", "source", "integration"], index_where=text("is_open")
        )
        .returning(_ALERTS.c.id, _ALERTS.c.fingerprint)
    )
)
