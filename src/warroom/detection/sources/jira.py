"""Jira Cloud `jira:issue_created` webhooks as user reports.

What this relies on: Jira Cloud signs admin webhooks registered with a secret in the WebSub
style, `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>` (Atlassian's "Webhooks"
page, section "Secure admin webhooks"; read here through secondary sources that quote it —
Atlassian's page itself was not in the searchable corpus). The payload is
`{webhookEvent, timestamp, user, issue: {id, key, self, fields: {summary, description,
reporter, priority, issuetype, project, created, …}}}`; `description` is a string from the v2
REST representation and may be an Atlassian Document Format tree from v3.

`jira:issue_updated` adds `changelog: {items: [{field, fromString, toString}, …]}`; when its
items include `status`, the issue's `fields.status` (`name`, `statusCategory.key`:
new|indeterminate|done) is handed to the postmortem's action items linked to that issue.
Issues warroom itself created for action items (label `warroom-action-<id>`) are never
reports, however broad the webhook's filter.

A delivery is named twice: by `X-Atlassian-Webhook-Identifier` (unique within the site and
the same on every retry, but not signed) and by the SHA-256 of the signed body (which a replayer
cannot change; the body carries the event's millisecond `timestamp`). Either seen before makes
it a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from warroom.detection.schemas import AlertIn
from warroom.detection.sources.common import (
    FieldError,
    body_digest,
    cap_raw,
    field_invalid,
    get_object,
    get_str,
    header,
    json_type,
    match_signature,
    parse_object,
    parse_time,
    require_str,
)
from warroom.notify.jira_config import LABEL_PREFIX

SOURCE = "jira"
SIGNATURE_HEADER = "X-Hub-Signature"
IDENTIFIER_HEADER = "X-Atlassian-Webhook-Identifier"
EVENT = "jira:issue_created"
UPDATED = "jira:issue_updated"
OWN_LABEL = LABEL_PREFIX + "action-"  # the issues of action items, made by warroom
_BLOCKS = {"paragraph", "heading", "blockquote", "codeBlock", "listItem", "panel", "tableRow"}


def verify(body: bytes, headers: Mapping[str, str], secrets: list[str]) -> int | None:
    """Return the index of the secret that signed this request, or None."""
    value = header(headers, SIGNATURE_HEADER)
    if not value:
        return None
    method, _, signature = value.strip().partition("=")
    if method.lower() != "sha256" or not signature:
        return None  # WebSub allows other hashes; Jira Cloud uses sha256 only
    return match_signature([signature], body, secrets)


def delivery_ids(body: bytes, headers: Mapping[str, str], integration: str) -> tuple[str, ...]:
    """Name a delivery by Jira's retry-stable identifier and by its signed body's digest."""
    identifier = (header(headers, IDENTIFIER_HEADER) or "").strip()
    # The identifier is unique within one Jira site: two sites (two integrations) may repeat it.
    named = (f"id:{integration}:{identifier[:160]}",) if identifier else ()
    return (*named, body_digest(body))


def parse(body: bytes) -> list[AlertIn]:
    """Turn a `jira:issue_created` webhook into one report; other events give none."""
    payload = parse_object(body)
    try:
        if require_str(payload, "webhookEvent") != EVENT or _ours(payload):
            return []
        return [_report(payload)]
    except FieldError as exc:
        raise field_invalid(exc) from None


@dataclass(frozen=True)
class IssueUpdate:
    """A Jira issue's status changed: what it is now, and who changed it."""

    key: str
    status: str | None  # the status's name, e.g. "Done"
    category: str | None  # its category's key: new, indeterminate or done
    user: str | None


def parse_update(body: bytes) -> IssueUpdate | None:
    """Return the status change a `jira:issue_updated` webhook reports; None for anything else."""
    payload = parse_object(body)
    try:
        if require_str(payload, "webhookEvent") != UPDATED:
            return None
        changelog = get_object(payload, "changelog")
        items = changelog.get("items")
        listed = items if isinstance(items, list) else []
        moves = [i for i in listed if isinstance(i, dict) and i.get("field") == "status"]
        if not moves:
            return None  # an edit that left the status alone says nothing about the item
        issue = get_object(payload, "issue", required=True)
        fields = get_object(issue, "fields", required=True, name="issue.fields")
        status = get_object(fields, "status", name="issue.fields.status")
        category = get_object(status, "statusCategory", name="issue.fields.status.statusCategory")
        user = get_object(payload, "user")
        to = moves[-1].get("toString")
        return IssueUpdate(
            key=require_str(issue, "key", name="issue.key"),
            status=get_str(status, "name", name="issue.fields.status.name")
            or (to if isinstance(to, str) else None),
            category=get_str(category, "key", name="issue.fields.status.statusCategory.key"),
            user=get_str(user, "displayName") or get_str(user, "emailAddress"),
        )
    except FieldError as exc:
        raise field_invalid(exc) from None


def _ours(payload: dict[str, Any]) -> bool:
    """Tell whether the issue is one warroom made for an action item (never a report)."""
    issue = payload.get("issue")
    fields = issue.get("fields") if isinstance(issue, dict) else None
    labels = fields.get("labels") if isinstance(fields, dict) else None
    return isinstance(labels, list) and any(
        isinstance(label, str) and label.startswith(OWN_LABEL) for label in labels
    )


def _report(payload: dict[str, Any]) -> AlertIn:
    issue = get_object(payload, "issue", required=True)
    key = require_str(issue, "key", name="issue.key")
    fields = get_object(issue, "fields", required=True, name="issue.fields")
    reporter = get_object(fields, "reporter", name="issue.fields.reporter") or get_object(
        payload, "user"
    )
    priority = get_object(fields, "priority", name="issue.fields.priority")
    project = get_object(fields, "project", name="issue.fields.project")
    issuetype = get_object(fields, "issuetype", name="issue.fields.issuetype")
    labels = {
        name: value
        for name, value in (
            ("project", get_str(project, "key", name="issue.fields.project.key")),
            ("issuetype", get_str(issuetype, "name", name="issue.fields.issuetype.name")),
        )
        if value is not None
    }
    link = browse_url(get_str(issue, "self", name="issue.self"), key)
    return AlertIn(
        source=SOURCE,
        fingerprint=f"jira:{key}",
        status="firing",
        labels=labels,
        title=require_str(fields, "summary", name="issue.fields.summary"),
        summary=description_text(fields.get("description")),
        severity=get_str(priority, "name", name="issue.fields.priority.name"),
        starts_at=_created(fields.get("created")),
        links=[{"title": f"Jira {key}", "url": link}] if link else [],
        reporter=get_str(reporter, "displayName") or get_str(reporter, "emailAddress"),
        kind="report",
        raw=cap_raw(issue),
    )


def browse_url(self_url: str | None, key: str) -> str | None:
    """Build the issue page from its REST `self` URL: site (and context path) + /browse/KEY."""
    if not self_url:
        return None
    parts = urlsplit(self_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # Jira Server may sit under a context path (`/jira/rest/api/2/…`): keep what precedes /rest/.
    base = parts.path.split("/rest/", 1)[0] if "/rest/" in parts.path else ""
    return f"{parts.scheme}://{parts.netloc}{base}/browse/{key}"


def description_text(value: object) -> str | None:
    """Return a description as plain text: a string as is, an ADF document as its text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        text = _adf_text(value).strip()
        return text or None
    raise FieldError(
        "issue.fields.description", f"must be text or a document, not {json_type(value)}"
    )


def _adf_text(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "text":
        text = node.get("text")
        return text if isinstance(text, str) else ""
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji"):
        attrs = node.get("attrs")
        text = attrs.get("text") if isinstance(attrs, dict) else None
        return text if isinstance(text, str) else ""
    content = node.get("content")
    children = content if isinstance(content, list) else []
    inner = "".join(_adf_text(child) for child in children if isinstance(child, dict))
    return inner + "\n" if kind in _BLOCKS and inner and not inner.endswith("\n") else inner


def _created(value: object) -> datetime | None:
    # The issue's creation time is only a hint for the report's start: a value in an
    # unexpected format is left out rather than turning away someone's report.
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None
