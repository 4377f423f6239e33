"""A loopback stand-in for the Slack Web API methods warroom calls, in Slack's wire format.

Like Slack it takes POST bodies as `application/x-www-form-urlencoded` or JSON (and GET
query strings), wants `Authorization: Bearer xoxb-…` (a form may carry `token` instead; a
JSON body may not), answers HTTP 200 with `{"ok": false, "error": …}` for refusals
(`not_authed`, `invalid_auth`, `name_taken`, `channel_not_found`, `not_in_channel`,
`is_archived`, `already_in_channel`, …) and `{"ok": true, …}` with Slack's field names
otherwise. It records every call and can be told to fail: HTTP 5xx, 429 with Retry-After,
or answer only after the client has given up.

    with SlackServer() as slack:
        chat = SlackChat(SlackConfig(signing_secret="s", bot_token=slack.token, base_url=slack.url))
        slack.fail(status=500, times=2)       # the next two calls answer 500
        slack.hang(seconds=30)                 # calls during 30 s answer after the timeout
        slack.recover()                        # answer normally again
        slack.messages("#incident-response")   # what was posted there, in order
        slack.views                            # the modals opened (views.open), in order
        slack.expire("123.456.abc")            # that trigger_id answers expired_trigger_id
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
BOT_USER = "U0BOTWARRM"
_NAME = re.compile(r"[a-z0-9_-]+")
_USER = re.compile(r"[UW][A-Z0-9]{2,}")
_TYPES = {"public_channel", "private_channel", "mpim", "im"}
_TRIGGER = re.compile(r"\d+\.\d+\.[0-9a-f]+")  # Slack's documented form: 132456.7890123.abcdef


class _Server(ThreadingHTTPServer):
    """The fake's listener: a backlog for every engine's senders at once.

    socketserver listens with a backlog of 5. Two engines post on up to 16 connections at
    once, each new (the fake answers HTTP/1.0); while a loaded machine keeps this process's
    accept loop waiting, connections past the backlog are dropped and retransmitted by the
    kernel 1, 3, 7 s later. One established past the client's timeout is still read and
    answered "ok" here, while its sender, having timed out, posts it again: a page counted
    twice that Slack's own listener would have taken at once.
    """

    daemon_threads = True
    request_queue_size = 128


@dataclass
class Channel:
    """A channel as the fake workspace holds it."""

    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    members: list[str] = field(default_factory=list)
    created: int = 1_700_000_000

    def as_slack(self) -> dict[str, Any]:
        """Return the conversation object with Slack's field names."""
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": True,
            "is_group": False,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": BOT_USER in self.members,
            "created": self.created,
            "creator": BOT_USER,
            "num_members": len(self.members),
        }


@dataclass(frozen=True)
class Call:
    """One request: the API method, its parameters, the idempotency key and what was answered."""

    method: str
    params: dict[str, Any]
    key: str | None
    outcome: str  # "ok", a Slack error code, "http 500", "timeout"
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


@dataclass
class _Fault:
    status: int | None  # None: hang
    times: int | None
    until: float | None
    retry_after: int = 1
    sleep: float = 30.0
    deliver: bool = False  # a hung call still takes effect (the answer is what gets lost)


class SlackServer:
    """The fake Slack on a free port of 127.0.0.1; use it as a context manager."""

    def __init__(self, token: str = TOKEN, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.clock = clock  # the time `fail(seconds=…)` and `hang(seconds=…)` count in
        self.calls: list[Call] = []
        # False: conversations.invite ignores `force`, so one bad id fails the whole call.
        self.honour_force = True
        self.channels: dict[str, Channel] = {}
        self._fault: _Fault | None = None
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._ids = itertools.count(1)
        self._ts = itertools.count(1)
        self._posted: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []  # {"trigger_id": …, "view": …} per views.open
        self.replies: list[dict[str, Any]] = []  # JSON posted to a response_url, in order
        self._triggers_used: set[str] = set()
        self._triggers_expired: set[str] = set()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> SlackServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> SlackServer:
        """Listen in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Wake hung answers and stop listening."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        """The Web API base URL (SlackConfig.base_url), like http://127.0.0.1:PORT/api/."""
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/"

    def response_url(self, path: str = "actions/T0001/1/abc") -> str:
        """A response_url of this server (Slack's are https://hooks.slack.com/actions/…)."""
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/{path}"

    def take_replies(self) -> list[str]:
        """Return the texts posted to response_urls so far, and forget them."""
        with self._lock:
            texts = [str(r.get("text")) for r in self.replies]
            self.replies.clear()
        return texts

    # -- switches ----------------------------------------------------------------------------

    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = None,
        seconds: float | None = None,
        retry_after: int = 1,
    ) -> None:
        """Answer HTTP `status` (429 carries Retry-After) for `times` calls or `seconds`."""
        self._set(_Fault(status, times, self._deadline(seconds), retry_after=retry_after))

    def hang(
        self,
        seconds: float | None = None,
        *,
        times: int | None = None,
        sleep: float = 30.0,
        deliver: bool = False,
    ) -> None:
        """Hold answers `sleep` seconds (past the client's timeout) for `times` calls or `seconds`.

        With `deliver` the call still takes effect: the message is posted, only the answer is
        late, as when a network drops Slack's reply.
        """
        self._set(_Fault(None, times, self._deadline(seconds), sleep=sleep, deliver=deliver))

    def recover(self) -> None:
        """Answer normally again (and wake answers being held)."""
        with self._lock:
            self._fault = None
        self._release.set()

    def _set(self, fault: _Fault) -> None:
        with self._lock:
            self._fault = fault
        self._release.clear()

    def _deadline(self, seconds: float | None) -> float | None:
        return None if seconds is None else self.clock() + seconds

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None:
                return None
            if fault.until is not None and self.clock() >= fault.until:
                self._fault = None
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._fault = None
            return fault

    # -- workspace state ---------------------------------------------------------------------

    def add_channel(
        self, name: str, *, private: bool = False, archived: bool = False, bot_member: bool = True
    ) -> str:
        """Create a channel directly (as a person would); return its id."""
        with self._lock:
            return self._new_channel(name, private, archived, [BOT_USER] if bot_member else []).id

    def channel(self, ref: str) -> Channel | None:
        """Return a channel by id, `#name` or name."""
        with self._lock:
            return self._lookup(ref)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Return the messages posted (to `channel`, an id or `#name`), oldest first."""
        with self._lock:
            wanted = self._lookup(channel) if channel else None
            if channel and wanted is None:
                return []
            return [m for m in self._posted if wanted is None or m["channel"] == wanted.id]

    def expire(self, trigger_id: str) -> None:
        """Make views.open with this trigger answer expired_trigger_id (it lives 3 s in Slack)."""
        with self._lock:
            self._triggers_expired.add(trigger_id)

    def keys(self, method: str = "chat.postMessage") -> list[str | None]:
        """Return the idempotency keys of the successful calls of `method`, in order."""
        return [c.key for c in self.calls if c.method == method and c.outcome == "ok"]

    def _new_channel(self, name: str, private: bool, archived: bool, members: list[str]) -> Channel:
        channel = Channel(
            id=f"C{next(self._ids):08d}",
            name=name,
            is_private=private,
            is_archived=archived,
            members=members,
        )
        self.channels[channel.id] = channel
        return channel

    def _lookup(self, ref: str) -> Channel | None:
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    # -- the API -----------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one API method against the workspace; return Slack's JSON answer."""
        handler = _METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        with self._lock:
            return handler(self, params)

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("name") or "")
        if not name:
            return _error("invalid_name_required")
        if len(name) > 80:
            return _error("invalid_name_maxlength")
        if not _NAME.fullmatch(name):
            return _error("invalid_name_specials")
        if self._lookup(name) is not None:
            return _error("name_taken")
        private = _flag(params.get("is_private"))
        return {
            "ok": True,
            "channel": self._new_channel(name, private, False, [BOT_USER]).as_slack(),
        }

    def _list(self, params: dict[str, Any]) -> dict[str, Any]:
        types = set(str(params.get("types") or "public_channel").split(","))
        if not types <= _TYPES:
            return _error("invalid_types")
        limit = max(1, min(int(params.get("limit") or 100), 1000))
        cursor = str(params.get("cursor") or "")
        try:
            start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
        except ValueError:
            return _error("invalid_cursor")
        visible = [
            c
            for c in self.channels.values()
            # The bot sees public channels, and private ones only when it is a member.
            if ("private_channel" if c.is_private else "public_channel") in types
            and (not c.is_private or BOT_USER in c.members)
            and not (c.is_archived and _flag(params.get("exclude_archived")))
        ]
        page = visible[start : start + limit]
        following = start + limit
        next_cursor = (
            base64.b64encode(f"offset:{following}".encode()).decode()
            if following < len(visible)
            else ""
        )
        return {
            "ok": True,
            "channels": [c.as_slack() for c in page],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _invite(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._lookup_id(params.get("channel"))
        if isinstance(channel, dict):
            return channel
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            return _error("no_user")
        problems = []
        for user in users:
            if user == BOT_USER:
                problems.append({"user": user, "ok": False, "error": "cant_invite_self"})
            elif not _USER.fullmatch(user):
                problems.append({"user": user, "ok": False, "error": "user_not_found"})
            elif user in channel.members:
                problems.append({"user": user, "ok": False, "error": "already_in_channel"})
        valid = [u for u in users if u not in {p["user"] for p in problems}]
        if problems and not (self.honour_force and _flag(params.get("force")) and valid):
            # Without force any bad id fails the call, and nobody is invited.
            answer = _error(str(problems[0]["error"]))
            answer["errors"] = problems
            return answer
        channel.members.extend(valid)
        answer = {"ok": True, "channel": channel.as_slack()}
        if problems:
            answer["errors"] = problems
        return answer

    def _post(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._lookup_id(params.get("channel"))
        if isinstance(channel, dict):
            return channel
        text, blocks = params.get("text"), params.get("blocks")
        if isinstance(blocks, str):  # a form body carries blocks as a JSON string
            blocks = json.loads(blocks)
        if not text and not blocks:
            return _error("no_text")
        if blocks is not None and (
            not isinstance(blocks, list)
            or len(blocks) > 50
            or not all(isinstance(b, dict) and b.get("type") for b in blocks)
        ):
            return _error("invalid_blocks")
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata is not None and (
            not isinstance(metadata, dict)
            or not metadata.get("event_type")
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            return _error("invalid_metadata_format")
        ts = f"{1_700_000_000 + next(self._ts)}.000100"
        message = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": "B0WARROOM",
            "text": text or "",
            "ts": ts,
            "blocks": blocks or [],
            **({"metadata": metadata} if metadata else {}),
        }
        self._posted.append({"channel": channel.id, **message})
        return {"ok": True, "channel": channel.id, "ts": ts, "message": message}

    def _open_view(self, params: dict[str, Any]) -> dict[str, Any]:
        trigger, view = str(params.get("trigger_id") or ""), params.get("view")
        if isinstance(view, str):  # a form body carries the view as a JSON string
            view = json.loads(view)
        if not trigger:
            return _error("invalid_arguments")
        if not _TRIGGER.fullmatch(trigger):
            return _error("invalid_trigger_id")
        if trigger in self._triggers_expired:
            return _error("expired_trigger_id")
        if trigger in self._triggers_used:
            return _error("exchanged_trigger_id")
        if not _valid_modal(view):
            return _error("invalid_arguments")
        assert isinstance(view, dict)
        self._triggers_used.add(trigger)
        opened = {"id": f"V{next(self._ids):08d}", "team_id": "T0001", "state": {"values": {}}}
        self.views.append({"trigger_id": trigger, "view": view})
        return {"ok": True, "view": {**view, **opened}}

    def _lookup_id(self, ref: object) -> Channel | dict[str, Any]:
        if isinstance(ref, str) and _USER.fullmatch(ref):
            # A user id opens (or reuses) the app's direct message with that user, as in Slack.
            dm = self.channels.get(f"D{ref}")  # answer() holds the lock already
            if dm is None:
                dm = Channel(id=f"D{ref}", name=ref, is_private=True, members=[BOT_USER, ref])
                self.channels[dm.id] = dm
            return dm
        channel = self._lookup(str(ref)) if ref else None
        if channel is None:
            return _error("channel_not_found")
        if channel.is_archived:
            return _error("is_archived")
        if BOT_USER not in channel.members:
            return _error("not_in_channel")
        return channel


_METHODS: dict[str, Callable[[SlackServer, dict[str, Any]], dict[str, Any]]] = {
    "conversations.create": SlackServer._create,
    "conversations.list": SlackServer._list,
    "conversations.invite": SlackServer._invite,
    "chat.postMessage": SlackServer._post,
    "views.open": SlackServer._open_view,
}


def _valid_modal(view: object) -> bool:
    """Check a view against Slack's documented limits for a modal."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return False
    title, blocks = view.get("title"), view.get("blocks")
    if not isinstance(title, dict) or title.get("type") != "plain_text":
        return False
    if not 0 < len(str(title.get("text") or "")) <= 24:
        return False
    for key in ("submit", "close"):
        text = view.get(key)
        if text is not None and (not isinstance(text, dict) or len(str(text.get("text"))) > 24):
            return False
    if len(str(view.get("callback_id") or "")) > 255:
        return False
    if len(str(view.get("private_metadata") or "")) > 3000:
        return False
    return (
        isinstance(blocks, list)
        and len(blocks) <= 100
        and all(isinstance(b, dict) and b.get("type") for b in blocks)
    )


def _error(code: str) -> dict[str, Any]:
    return {"ok": False, "error": code}


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _key(params: dict[str, Any]) -> str | None:
    metadata = params.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    if isinstance(metadata, dict) and isinstance(metadata.get("event_payload"), dict):
        key = metadata["event_payload"].get("idempotency_key")
        return str(key) if key is not None else None
    return None


def _handler(fake: SlackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self._handle(json_allowed=False)

        def do_POST(self) -> None:
            self._handle(json_allowed=True)

        def _handle(self, *, json_allowed: bool) -> None:
            parts = urlsplit(self.path)
            if parts.path.startswith(("/actions/", "/commands/")) and json_allowed:
                self._respond_to_click()
                return
            if not parts.path.startswith("/api/"):
                self._send(404, {"ok": False, "error": "unknown_method"})
                return
            method = parts.path.removeprefix("/api/")
            content_type = self.headers.get("Content-Type", "")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            params: dict[str, Any] = {k: v[0] for k, v in parse_qs(parts.query).items()}
            try:
                if body and content_type.startswith("application/json") and json_allowed:
                    loaded = json.loads(body)
                    if not isinstance(loaded, dict):
                        raise ValueError("not an object")
                    params.update(loaded)
                    token_in_body = None  # Slack ignores a token inside a JSON body
                elif body and content_type.startswith("application/x-www-form-urlencoded"):
                    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    params.update(form)
                    token_in_body = form.get("token")
                elif body:
                    self._record(method, params, content_type, "invalid_form_data")
                    self._send(200, _error("invalid_form_data"))
                    return
                else:
                    token_in_body = None
            except ValueError:
                self._record(method, params, content_type, "invalid_json")
                self._send(200, _error("invalid_json"))
                return
            params.pop("token", None)
            fault = fake._take_fault()
            if fault is not None and fault.status is not None:
                self._record(method, params, content_type, f"http {fault.status}")
                if fault.status == 429:
                    headers = {"Retry-After": str(fault.retry_after)}
                    self._send(429, _error("ratelimited"), headers)
                else:  # Slack's edge answers 5xx with an HTML page, not the API's JSON
                    self._send_raw(fault.status, b"<html><body>Server error</body></html>")
                return
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
            token = token or token_in_body
            if not token:
                answer = _error("not_authed")
            elif token != fake.token:
                answer = _error("invalid_auth")
            elif fault is None or fault.deliver:
                answer = fake.answer(method, params)
            else:
                answer = _error("request_timeout")
            if fault is not None:  # hang: answer after the client stopped waiting
                self._record(method, params, content_type, "timeout")
                fake._release.wait(fault.sleep)
                self._send(200, answer)
                return
            self._record(method, params, content_type, "ok" if answer["ok"] else answer["error"])
            self._send(404 if answer.get("error") == "unknown_method" else 200, answer)

        def _respond_to_click(self) -> None:
            """A response_url: JSON in, `ok` as text/plain out (no token: the URL is the key)."""
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                message = json.loads(body)
            except ValueError:
                self._send_raw(400, b"invalid_payload", "text/plain")
                return
            if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
                self._send_raw(400, b"no_text", "text/plain")
                return
            with fake._lock:
                fake.replies.append(message)
            self._send_raw(200, b"ok", "text/plain")

        def _record(
            self, method: str, params: dict[str, Any], content_type: str, outcome: str
        ) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            call = Call(method, dict(params), _key(params), outcome, content_type, headers)
            with fake._lock:
                fake.calls.append(call)

        def _send(
            self, status: int, answer: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(answer).encode()
            self._send_raw(status, data, "application/json; charset=utf-8", headers)

        def _send_raw(
            self,
            status: int,
            data: bytes,
            content_type: str = "text/html",
            headers: dict[str, str] | None = None,
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and hung up first

    return Handler
