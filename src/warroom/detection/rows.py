"""Shared pieces of the alerts table: open-row filters, names, and row values."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

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
    text = json.dumps(alert.raw, default=str, ensure_ascii=False)
    if len(text.encode()) <= RAW_LIMIT:
        return text
    return json.dumps({"truncated": True, "head": text[: RAW_LIMIT // 2]})
