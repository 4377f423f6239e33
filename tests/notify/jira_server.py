"""A loopback stand-in for Jira's REST API v2 (issues, transitions, JQL search), as documented.

Like Jira it checks the credentials (`Basic base64(email:api_token)` on Cloud, `Bearer <personal
access token>` on Server: 401 otherwise), wants JSON bodies (415), checks the create and edit
screens (400 `{"errorMessages": [], "errors": {field: message}}` for a missing summary, an
unknown project or issue type, a malformed due date, a label with spaces, an unknown
assignee, or a field that is not on the screen), keeps issues with their status in a small
workflow (To Do, In Progress, Done, Won't Do; each reachable from the others by a transition
named after it), answers JQL searches on `labels`, `project`, `key` and `status`, and
records every request. On `cloud` the old `/rest/api/2/search` is 410 Gone and
`/rest/api/2/search/jql` answers; on `server` the other way round (404). `.fail()`, `.hang()`
and `.recover()` come from `LoopbackServer`; `.refuse()` answers the next request with a body
of the test's choosing.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.notify.webhook_receiver import Answer, LoopbackServer, json_answer

EMAIL = "warroom-bot@example.com"
API_TOKEN = "ATATT3xFfGF0-jira-api-token-0123456789"
PAT = "NjM1ODk4MjQ0NzQyOpat-jira-server-token"
PROJECT = "OPS"
ISSUE_TYPES = ("Task", "Bug", "Story")
# status -> its category's key, in the order of the workflow
STATUSES = {"To Do": "new", "In Progress": "indeterminate", "Done": "done", "Won't Do": "done"}
CREATE_FIELDS = {"project", "summary", "description", "issuetype", "duedate", "labels", "assignee"}
EDIT_FIELDS = {"summary", "description", "duedate", "labels", "assignee"}
OFF_SCREEN = "It is not on the appropriate screen, or unknown."
NOT_FOUND = {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
CLAUSE = re.compile(r"""^\s*(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)'|(\S+))\s*$""")


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class _Refusal:
    status: int
    body: dict[str, Any]
    method: str | None
    path: str | None
    times: int = 1


@dataclass
class Issue:
    """An issue as the fake keeps it."""

    id: str
    key: str
    fields: dict[str, Any]
    status: str = "To Do"
    history: list[str] = field(default_factory=list)  # statuses it moved through


class JiraServer(LoopbackServer):
    """Jira's issue API for one site on 127.0.0.1 (Cloud or Server flavour)."""

    def __init__(
        self,
        deployment: str = "cloud",
        *,
        email: str = EMAIL,
        api_token: str = API_TOKEN,
        token: str = PAT,
        users: tuple[str, ...] = ("5b10ac8d82e05b22cc7d4ef5", "alice"),
    ) -> None:
        super().__init__()
        self.deployment = deployment
        self.email, self.api_token, self.token = email, api_token, token
        self.users = set(users)
        self.projects = {PROJECT: set(ISSUE_TYPES)}
        self.hidden: set[str] = set()  # fields taken off the screens
        self.workflow = dict(STATUSES)  # statuses a transition leads to
        self.issues: dict[str, Issue] = {}
        self.requests: list[Recorded] = []
        self._numbers = itertools.count(1)
        self._refusals: list[_Refusal] = []

    def __enter__(self) -> JiraServer:
        self.start()
        return self

    @property
    def url(self) -> str:
        """The base URL to configure."""
        return self.base_url

    def failure(self, status: int) -> Answer:
        """Jira's error shape."""
        return json_answer(status, {"errorMessages": [f"injected failure {status}"], "errors": {}})

    def refuse(
        self,
        status: int,
        body: dict[str, Any],
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next matching request(s) with `status` and `body`, doing nothing."""
        with self._lock:
            self._refusals.append(_Refusal(status, body, method, path, times))

    def move(self, key: str, status: str) -> None:
        """Change an issue's status as a person in Jira would."""
        with self._lock:
            self.issues[key].status = status
            self.issues[key].history.append(status)

    def writes(self) -> list[Recorded]:
        """Return the requests that change something (POST, PUT)."""
        with self._lock:
            return [r for r in self.requests if r.method in ("POST", "PUT")]

    # -- routing -------------------------------------------------------------------------------

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
            refusal = self._refusal(method, parts.path)
        if refusal is not None:
            return json_answer(refusal.status, refusal.body)
        if not self._authenticated(headers.get("authorization", "")):
            return json_answer(
                401,
                {"errorMessages": ["You are not authenticated. Authentication required."]},
                {"WWW-Authenticate": 'Basic realm="protected-area"'},
            )
        if method in ("POST", "PUT"):
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                return json_answer(415, {"errorMessages": ["Unsupported Media Type"]})
            if not isinstance(data, dict):
                return json_answer(400, {"errorMessages": ["Unexpected body: send JSON"]})
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments[:3] != ["rest", "api", "2"]:
            return json_answer(404, {"errorMessages": ["Not found"]})
        rest = segments[3:]
        with self._lock:
            return self._route(method, rest, query, data)

    def _route(
        self, method: str, rest: list[str], query: dict[str, list[str]], data: Any
    ) -> Answer:
        if rest == ["search"] and method == "GET":
            if self.deployment == "cloud":
                return json_answer(
                    410,
                    {
                        "errorMessages": [
                            "The requested API has been removed. Please migrate to "
                            "the /rest/api/2/search/jql API."
                        ]
                    },
                )
            return self._search(query, server=True)
        if rest == ["search", "jql"] and method == "GET":
            if self.deployment != "cloud":
                return json_answer(404, {"errorMessages": ["Not found"]})
            return self._search(query, server=False)
        if rest == ["issue"] and method == "POST":
            return self._create(data.get("fields"))
        if len(rest) >= 2 and rest[0] == "issue":
            issue = self.issues.get(rest[1])
            if issue is None:
                return json_answer(404, {**NOT_FOUND, "errors": {}})
            if len(rest) == 2 and method == "GET":
                return json_answer(200, self._view(issue, query))
            if len(rest) == 2 and method == "PUT":
                return self._edit(issue, data.get("fields"))
            if rest[2:] == ["transitions"] and method == "GET":
                return json_answer(
                    200, {"expand": "transitions", "transitions": self._offered(issue)}
                )
            if rest[2:] == ["transitions"] and method == "POST":
                return self._transition(issue, data)
        return json_answer(405, {"errorMessages": [f"{method} is not allowed here"]})

    def _refusal(self, method: str, path: str) -> _Refusal | None:
        for refusal in self._refusals:
            if refusal.method not in (None, method) or refusal.path not in (None, path):
                continue
            refusal.times -= 1
            if refusal.times <= 0:
                self._refusals.remove(refusal)
            return refusal
        return None

    def _authenticated(self, authorization: str) -> bool:
        scheme, _, value = authorization.partition(" ")
        if self.deployment == "cloud":
            expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
            return scheme == "Basic" and value == expected
        return scheme == "Bearer" and value == self.token

    # -- issues --------------------------------------------------------------------------------

    def _check(self, fields: Any, allowed: set[str]) -> dict[str, str]:
        """Return Jira's field errors for a create or an edit."""
        if not isinstance(fields, dict):
            return {"fields": "fields must be an object"}
        errors: dict[str, str] = {}
        for name in fields:
            if name not in allowed or name in self.hidden:
                errors[name] = f"Field '{name}' cannot be set. {OFF_SCREEN}"
        if "summary" in fields and (
            not isinstance(fields["summary"], str) or not fields["summary"].strip()
        ):
            errors["summary"] = "You must specify a summary of the issue."
        if (
            "summary" in fields
            and isinstance(fields["summary"], str)
            and len(fields["summary"]) > 255
        ):
            errors["summary"] = "Summary must be less than 255 characters."
        due = fields.get("duedate")
        if due is not None:
            try:
                date.fromisoformat(str(due))
            except ValueError:
                errors["duedate"] = f"Error parsing date string: {due}"
        labels = fields.get("labels", [])
        if not isinstance(labels, list) or any(
            not isinstance(label, str) or " " in label for label in labels
        ):
            errors["labels"] = "The label must not contain spaces."
        assignee = fields.get("assignee")
        if assignee is not None:
            id_field = "accountId" if self.deployment == "cloud" else "name"
            if not isinstance(assignee, dict) or assignee.get(id_field) not in self.users:
                errors["assignee"] = f"User '{assignee}' does not exist."
        return errors

    def _create(self, fields: Any) -> Answer:
        errors = self._check(fields, CREATE_FIELDS)
        if not errors:
            project = (fields.get("project") or {}).get("key")
            if project not in self.projects:
                errors["project"] = "valid project is required"
            elif (fields.get("issuetype") or {}).get("name") not in self.projects[project]:
                errors["issuetype"] = "Specify a valid issue type"
            if "summary" not in fields:
                errors["summary"] = "You must specify a summary of the issue."
        if errors:
            return json_answer(400, {"errorMessages": [], "errors": errors})
        number = next(self._numbers)
        issue = Issue(id=str(10000 + number), key=f"{fields['project']['key']}-{number}", fields={})
        issue.fields = dict(fields)
        issue.fields.setdefault("labels", [])
        issue.fields.setdefault("duedate", None)
        issue.fields.setdefault("assignee", None)
        issue.history.append(issue.status)
        self.issues[issue.key] = issue
        return json_answer(201, {"id": issue.id, "key": issue.key, "self": self._self(issue)})

    def _edit(self, issue: Issue, fields: Any) -> Answer:
        errors = self._check(fields, EDIT_FIELDS)
        if errors:
            return json_answer(400, {"errorMessages": [], "errors": errors})
        issue.fields.update(fields)
        return 204, {}, b""

    def _status(self, name: str) -> dict[str, Any]:
        category = self.workflow.get(name) or STATUSES.get(name, "new")
        return {"name": name, "statusCategory": {"key": category}}

    def _view(self, issue: Issue, query: dict[str, list[str]]) -> dict[str, Any]:
        everything = {**issue.fields, "status": self._status(issue.status)}
        wanted = ",".join(query.get("fields", [])).split(",")
        shown = {k: v for k, v in everything.items() if k in wanted} if any(wanted) else everything
        return {"id": issue.id, "key": issue.key, "self": self._self(issue), "fields": shown}

    def _offered(self, issue: Issue) -> list[dict[str, Any]]:
        return [
            {
                "id": str(11 + 10 * index),
                "name": name,
                "hasScreen": False,
                "to": self._status(name),
            }
            for index, name in enumerate(self.workflow)
            if name != issue.status
        ]

    def _transition(self, issue: Issue, data: dict[str, Any]) -> Answer:
        wanted = str((data.get("transition") or {}).get("id"))
        found = next((t for t in self._offered(issue) if t["id"] == wanted), None)
        if found is None:
            return json_answer(
                400,
                {
                    "errorMessages": [f"Transition id '{wanted}' is not valid for this issue."],
                    "errors": {},
                },
            )
        issue.status = found["to"]["name"]
        issue.history.append(issue.status)
        return 204, {}, b""

    def _search(self, query: dict[str, list[str]], *, server: bool) -> Answer:
        jql = query.get("jql", [""])[0]
        where = re.split(r"(?i)\s+ORDER\s+BY\s+", jql)[0]
        matches = list(self.issues.values())
        for clause in re.split(r"(?i)\s+AND\s+", where) if where.strip() else []:
            parsed = CLAUSE.match(clause)
            if parsed is None:
                return json_answer(400, {"errorMessages": [f"Error in the JQL Query: {clause!r}"]})
            name = parsed.group(1).lower()
            value = next(g for g in parsed.groups()[1:] if g is not None)
            if name not in ("labels", "project", "key", "status"):
                return json_answer(
                    400,
                    {
                        "errorMessages": [
                            f"Field '{name}' does not exist or you do not have "
                            "permission to view it."
                        ]
                    },
                )
            matches = [i for i in matches if self._has(i, name, value)]
        limit = int(query.get("maxResults", ["50"])[0])
        found = [self._view(i, query) for i in matches[:limit]]
        if server:
            return json_answer(
                200, {"startAt": 0, "maxResults": limit, "total": len(matches), "issues": found}
            )
        return json_answer(200, {"issues": found, "isLast": len(matches) <= limit})

    def _has(self, issue: Issue, name: str, value: str) -> bool:
        if name == "labels":
            return value in issue.fields.get("labels", [])
        if name == "project":
            return issue.key.split("-")[0] == value
        if name == "key":
            return issue.key == value
        return issue.status.casefold() == value.casefold()

    def _self(self, issue: Issue) -> str:
        return f"{self.base_url}/rest/api/2/issue/{issue.id}"

    def labelled(self, label: str) -> list[Issue]:
        """Return the issues carrying `label`."""
        with self._lock:
            return [i for i in self.issues.values() if label in i.fields.get("labels", [])]
