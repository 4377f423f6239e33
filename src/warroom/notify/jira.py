"""Jira issues for postmortem action items: create them and keep them in step (REST API v2).

Wire format, as Atlassian documents it (Jira Cloud platform and Jira Server REST API v2):
- `Authorization: Basic base64(email:api_token)` on Cloud, `Bearer <personal access token>` on
  Server/Data Center; JSON bodies;
- create `POST /rest/api/2/issue` with `{"fields": {project: {key}, summary, description,
  issuetype: {name}, duedate: "YYYY-MM-DD", labels, assignee}}` → 201 `{id, key, self}`; the
  assignee is `{"accountId": …}` on Cloud and `{"name": …}` on Server;
- edit `PUT /rest/api/2/issue/{key}` with `{"fields": {...}}` → 204 (`null` clears a field);
- `GET /rest/api/2/issue/{key}?fields=status` → `{fields: {status: {name, statusCategory:
  {key: new|indeterminate|done}}}}`;
- `GET /rest/api/2/issue/{key}/transitions` → `{transitions: [{id, name, to: {name}}]}`, and
  `POST` to the same path with `{"transition": {"id"}}` → 204;
- search with JQL: `GET /rest/api/2/search/jql` on Cloud (the older `/rest/api/2/search` answers
  410 Gone there since 2025), `GET /rest/api/2/search` on Server; both answer `{issues: [...]}`;
- errors are `{"errorMessages": [...], "errors": {field: message}}`; 429/503 carry Retry-After.
Jira has no idempotency key, so every issue carries the label `warroom-action-<id>`, and a
create first searches for it: a retry after a failed or uncertain attempt (or a resend of a
dead row) finds the issue instead of making a second one.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson

from warroom import __version__
from warroom.core.urls import LOOPBACK
from warroom.notify.jira_config import (
    LABEL_PREFIX,
    JiraIssuesConfig,
)
from warroom.notify.ports import DeliveryError, Ticket, retry_seconds
from warroom.notify.webhook import status_error, transport_error

log = logging.getLogger("warroom.notify")

ISSUE = "/rest/api/2/issue"
CLOUD_SEARCH, SERVER_SEARCH = "/rest/api/2/search/jql", "/rest/api/2/search"
REASON_MAX = 400


class JiraIssues:
    """Creates and updates the Jira issues of action items in one project."""

    def __init__(
        self, config: JiraIssuesConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        self._cloud = config.deployment == "cloud"
        self._search = CLOUD_SEARCH if self._cloud else SERVER_SEARCH
        if config.token is not None:
            self._secret = config.token.get_secret_value()
            auth: httpx.Auth | None = None
            headers = {"Authorization": f"Bearer {self._secret}"}
        else:
            assert config.email is not None and config.api_token is not None
            self._secret = config.api_token.get_secret_value()
            auth, headers = httpx.BasicAuth(config.email, self._secret), {}
        loopback = urlsplit(config.base_url).hostname in LOOPBACK
        self._http = httpx.Client(
            base_url=config.base_url,
            auth=auth,
            headers={
                **headers,
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": f"warroom/{__version__}",
            },
            timeout=config.timeout,
            transport=transport,
            follow_redirects=False,  # a redirect would carry the credentials elsewhere
            trust_env=not loopback,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> JiraIssues:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the port ------------------------------------------------------------------------------

    def create_issue(self, *, ticket: Ticket, key: str) -> str:
        """Create the issue unless one with the ticket's label exists; return its key."""
        label = LABEL_PREFIX + ticket.ref
        # Always looked for, not only on a second attempt: a resent dead row starts counting
        # attempts again, and an action item is created at human pace, so the search is cheap.
        found = self.find(label)
        if found is not None:
            log.info("Jira issue %s for %s exists already; not creating another", found, ticket.ref)
            issue = found
        else:
            fields: dict[str, Any] = {
                "project": {"key": self.config.project},
                "summary": ticket.summary[:255],
                "description": ticket.description,
                "issuetype": {"name": self.config.issue_type},
                "labels": [*self.config.labels, label],
            }
            if ticket.due_date is not None:
                fields["duedate"] = ticket.due_date.isoformat()
            assignee = self._assignee(ticket.owner)
            if assignee:
                fields["assignee"] = assignee
            answer = self._request("POST", ISSUE, {"fields": fields})
            if not isinstance(answer, dict) or not isinstance(answer.get("key"), str):
                raise DeliveryError("Jira created an issue but sent no key")
            issue = answer["key"]
        if ticket.status != "open":
            self._move(issue, ticket.status)
        return issue

    def update_issue(
        self, *, issue: str | None, ref: str, changes: dict[str, Any], key: str
    ) -> str:
        """Apply changes (summary, due_date, owner, status) to the issue; return its key."""
        if issue is None:
            issue = self.find(LABEL_PREFIX + ref)
            if issue is None:
                raise DeliveryError(
                    f"no Jira issue has the label {LABEL_PREFIX + ref}: its creation failed "
                    "or it was deleted",
                    permanent=True,
                )
        fields: dict[str, Any] = {}
        if "summary" in changes:
            fields["summary"] = str(changes["summary"])[:255]
        if "due_date" in changes:
            fields["duedate"] = changes["due_date"]  # "YYYY-MM-DD", or None to clear it
        if "owner" in changes:
            owner = changes["owner"]
            assignee = self._assignee(owner)
            if owner is None:
                fields["assignee"] = None
            elif assignee is not None:
                fields["assignee"] = assignee
        if fields:
            self._request("PUT", f"{ISSUE}/{quote(issue, safe='')}", {"fields": fields})
        if "status" in changes:
            self._move(issue, str(changes["status"]))
        return issue

    # -- helpers -------------------------------------------------------------------------------

    def find(self, label: str) -> str | None:
        """Return the key of the oldest issue carrying `label`, or None."""
        # Within the configured project only: another warroom (staging, a rebuilt database)
        # numbers its items from 1 too. Project keys and labels need no escaping.
        jql = f'project = "{self.config.project}" AND labels = "{label}" ORDER BY created ASC'
        params = {"jql": jql, "fields": "status", "maxResults": "5"}
        try:
            answer = self._request("GET", self._search, params=params)
        except _Gone:
            # A site on Atlassian's cloud behind its own domain: use the search that replaced it.
            self._search = CLOUD_SEARCH
            answer = self._request("GET", self._search, params=params)
        issues = answer.get("issues") if isinstance(answer, dict) else None
        if not isinstance(issues, list):
            raise DeliveryError("Jira answered a search without an issues list")
        keys = [i["key"] for i in issues if isinstance(i, dict) and isinstance(i.get("key"), str)]
        return keys[0] if keys else None

    def _assignee(self, owner: str | None) -> dict[str, str] | None:
        """Return the assignee field for a warroom owner, or None when no Jira user is mapped."""
        if owner is None:
            return None
        user = self.config.assignees.get(owner)
        if user is None:
            log.info("owner %r has no Jira user in jira_issues.assignees; assignee left", owner)
            return None
        return {"accountId": user} if self._cloud else {"name": user}

    def _move(self, issue: str, status: str) -> None:
        """Move the issue through the transition configured for `status`, unless it is there."""
        path = f"{ISSUE}/{quote(issue, safe='')}"
        current = self._request("GET", path, params={"fields": "status"})
        fields = current.get("fields") if isinstance(current, dict) else None
        state = (fields or {}).get("status") or {}
        name = state.get("name")
        category = (state.get("statusCategory") or {}).get("key")
        if self.config.item_status(name, category) == status:
            return  # in step already (or the change came from Jira itself)
        wanted = {str(k): v for k, v in self.config.transitions.items()}.get(status)
        if wanted is None:
            raise DeliveryError(f"no Jira transition is configured for {status!r}", permanent=True)
        listing = self._request("GET", f"{path}/transitions")
        offered = listing.get("transitions") if isinstance(listing, dict) else None
        choices = [t for t in offered or [] if isinstance(t, dict)]
        folded = wanted.casefold()
        match = next((t for t in choices if str(t.get("name", "")).casefold() == folded), None)
        match = match or next(
            (t for t in choices if str((t.get("to") or {}).get("name", "")).casefold() == folded),
            None,
        )
        if match is None:
            names = ", ".join(repr(str(t.get("name"))) for t in choices) or "none"
            raise DeliveryError(
                f"Jira offers no transition {wanted!r} for {issue} in status {name!r} "
                f"(offered: {names}); set integrations.jira_issues.transitions.{status}",
                permanent=True,
            )
        self._request("POST", f"{path}/transitions", {"transition": {"id": str(match["id"])}})

    def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
    ) -> Any:
        content = orjson.dumps(body) if body is not None else None
        try:
            response = self._http.request(method, path, content=content, params=params)
        except httpx.TransportError as exc:
            raise transport_error(exc, "Jira", self.config.timeout) from None
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return {}
            try:
                return response.json()
            except ValueError:
                raise DeliveryError(
                    f"Jira answered {method} {path} with something not JSON"
                ) from None
        if status == 410 and path == SERVER_SEARCH:
            raise _Gone()
        retry_after = response.headers.get("Retry-After")
        error = status_error(status, "Jira", retry_after)
        reason = _reason(response).replace(self._secret, "***")
        raise DeliveryError(
            f"{error}: {reason}" if reason else str(error),
            permanent=error.permanent,
            retry_after=retry_seconds(retry_after) if not error.permanent else None,
        )


class _Gone(Exception):
    """The Server search path answered 410: the site is on Atlassian's cloud."""


def _reason(response: httpx.Response) -> str:
    """Return Jira's `errorMessages` and field `errors` as one readable line, shortened."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(m) for m in body.get("errorMessages") or [] if m]
    errors = body.get("errors")
    if isinstance(errors, dict):
        parts += [f"{field}: {message}" for field, message in errors.items()]
    if not parts and body.get("message"):
        parts.append(str(body["message"]))
    return "; ".join(parts)[:REASON_MAX]
