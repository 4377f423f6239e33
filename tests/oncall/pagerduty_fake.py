"""A loopback stand-in for PagerDuty's REST API `GET /oncalls`, speaking its documented format.

It checks `Authorization: Token token=<key>` (401 with PagerDuty's error body otherwise) and the
versioning `Accept` header, filters by `schedule_ids[]` and the `since`/`until` window, expands
users only for `include[]=users`, pages with `limit`/`offset`/`more`, and records every request.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ACCEPT = "application/vnd.pagerduty+json;version=2"
MAX_RANGE = timedelta(days=92)  # "The search range cannot exceed 3 months."


@dataclass(frozen=True)
class FakeUser:
    """A PagerDuty user."""

    id: str
    name: str
    email: str


@dataclass
class Recorded:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class FakePagerDuty:
    """PagerDuty's `/oncalls` on 127.0.0.1; `api_key` is the only token it accepts."""

    api_key: str = "pd-test-key"
    page_size: int = 100  # PagerDuty's maximum `limit`; lower it to force more pages
    delay: float = 0.0  # seconds to wait before answering (timeout tests)
    answer: tuple[int, Any] | None = None  # answer every request with this (status, body)
    oncalls: list[dict[str, Any]] = field(default_factory=list)
    users: dict[str, FakeUser] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The base URL, like http://127.0.0.1:PORT."""
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakePagerDuty:
        """Listen on a free port of 127.0.0.1 in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Release sleeping answers and stop listening."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def add(
        self,
        user: FakeUser,
        schedule: tuple[str, str] | None,
        start: datetime | None,
        end: datetime | None,
        *,
        policy: tuple[str, str] = ("PEP0001", "Payments escalation"),
        level: int = 1,
    ) -> None:
        """Put `user` on call in `schedule` (id, name) from `start` to `end` (None: open)."""
        self.users[user.id] = user
        ref = None
        if schedule is not None:
            ref = {"id": schedule[0], "type": "schedule_reference", "summary": schedule[1]}
        self.oncalls.append(
            {
                "user": user.id,
                "schedule": ref,
                "escalation_policy": {
                    "id": policy[0],
                    "type": "escalation_policy_reference",
                    "summary": policy[1],
                },
                "escalation_level": level,
                "start": start.isoformat() if start else None,
                "end": end.isoformat() if end else None,
            }
        )

    def oncalls_requests(self) -> list[Recorded]:
        """The recorded requests for /oncalls."""
        with self._lock:
            return [r for r in self.requests if r.path == "/oncalls"]

    # -- the endpoint ------------------------------------------------------------------------

    def respond(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, Any]:
        """Answer one request as PagerDuty would: (status, JSON body)."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            self.requests.append(Recorded(method, parts.path, query, headers))
        if self.delay:
            self._release.wait(self.delay)
        if self.answer is not None:
            return self.answer
        if headers.get("authorization") != f"Token token={self.api_key}":
            return 401, _error("Authentication failed", 2006)
        if headers.get("accept") != ACCEPT:
            # PagerDuty would fall back to the token's API version; the fake insists on the
            # header so a client that forgets to pin the version fails here.
            return 406, _error(f"Accept must be {ACCEPT}", 2001)
        if method != "GET" or parts.path != "/oncalls":
            return 404, _error("Not Found", 2100)
        return self._list(query)

    def _list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        now = datetime.now(UTC)
        try:
            since = _time(query.get("since", [""])[0]) or now
            until = _time(query.get("until", [""])[0]) or now
            limit = int(query.get("limit", ["25"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return 400, _error("Invalid time values in 'since' and/or 'until' parameters", 2004)
        if until < since or until - since > MAX_RANGE:
            return 400, _error("Invalid Query Date Range", 2005)
        if limit < 1 or offset < 0 or offset + limit > 10_000:
            return 400, _error("Invalid Input Provided", 2001, ["offset + limit exceeds 10000"])
        limit = min(limit, self.page_size)
        schedules = set(query.get("schedule_ids[]", []))
        policies = set(query.get("escalation_policy_ids[]", []))
        expand = "users" in query.get("include[]", [])
        found = [
            self._render(entry, expand)
            for entry in self.oncalls
            if _overlaps(entry, since, until)
            and (not schedules or _schedule_id(entry) in schedules)
            and (not policies or entry["escalation_policy"]["id"] in policies)
        ]
        page = found[offset : offset + limit]
        total = len(found) if query.get("total") == ["true"] else None
        more = offset + len(page) < len(found)
        return 200, {
            "oncalls": page,
            "limit": limit,
            "offset": offset,
            "more": more,
            "total": total,
        }

    def _render(self, entry: dict[str, Any], expand: bool) -> dict[str, Any]:
        user = self.users[entry["user"]]
        reference = {
            "id": user.id,
            "type": "user_reference",
            "summary": user.name,
            "self": f"https://api.pagerduty.com/users/{user.id}",
        }
        if expand:  # include[]=users: the full user object, which carries the e-mail address
            reference = {**reference, "type": "user", "name": user.name, "email": user.email}
        return {**entry, "user": reference}


def _error(message: str, code: int, errors: list[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return {"error": body}


def _time(text: str) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _schedule_id(entry: dict[str, Any]) -> str:
    return entry["schedule"]["id"] if entry["schedule"] else "null"


def _overlaps(entry: dict[str, Any], since: datetime, until: datetime) -> bool:
    start = _time(entry["start"] or "")
    end = _time(entry["end"] or "")
    return (start is None or start < until) and (end is None or end > since)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected; stay quiet."""


def _handler(fake: FakePagerDuty) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = fake.respond(self.command, self.path, headers)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
