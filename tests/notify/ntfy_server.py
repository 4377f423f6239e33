"""A loopback stand-in for an ntfy server's publish API, as documented (docs.ntfy.sh/publish).

It takes both ways of publishing: a JSON object POSTed (or PUT) to `/` (`topic`, `message`,
`title`, `priority`, `tags`, `click`, `actions`…) and a plain body POSTed to `/<topic>` with
`X-Title`, `X-Priority`, `X-Tags`, `X-Click`, `X-Actions` headers (or their short aliases, or
query parameters). As ntfy does, headers still count next to a JSON body where the JSON says
nothing (apprise sends title and message as JSON, priority, click and actions as headers).
Actions come in ntfy's simple format (`http, Label, URL, method=POST; view, …`) or as a JSON
array. It refuses what ntfy refuses with ntfy's error object (`{"code": 40001, "http": 400,
"error": …}`): a bad topic, priority or action list, a missing token where `tokens` are
required; answers a publish with the message as ntfy does (`{"id", "time", "event":
"message", "topic", …}`) and keeps it. `.fail()`, `.hang()` and `.recover()` come from
`LoopbackServer`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.notify.webhook_receiver import Answer, LoopbackServer, json_answer

TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
PRIORITIES = {"min": 1, "low": 2, "default": 3, "high": 4, "max": 5, "urgent": 5}
ACTION_KINDS = {"view", "broadcast", "http"}
ALIASES = {
    "title": ("x-title", "title", "ti", "t"),
    "priority": ("x-priority", "priority", "prio", "p"),
    "tags": ("x-tags", "tags", "tag", "ta"),
    "click": ("x-click", "click"),
    "actions": ("x-actions", "actions", "action"),
    "icon": ("x-icon", "icon"),
}
ERRORS = {
    400: (40000, "invalid request"),
    401: (40101, "unauthorized"),
    403: (40301, "forbidden"),
    404: (40401, "page not found"),
    429: (42901, "limit reached: too many requests"),
    500: (50001, "internal server error"),
    502: (50201, "bad gateway"),
    503: (50301, "service unavailable"),
}


class NtfyServer(LoopbackServer):
    """ntfy's publish endpoint on 127.0.0.1; with `tokens`, only those may publish."""

    def __init__(self, tokens: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.tokens = set(tokens)
        self.messages: list[dict[str, Any]] = []  # every accepted message, as ntfy keeps it
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []

    def __enter__(self) -> NtfyServer:
        self.start()
        return self

    def url(self, topic: str, *, token: str | None = None) -> str:
        """Return the apprise URL that publishes to `topic` here (plain http: `ntfy://`)."""
        host = self.base_url.removeprefix("http://")
        return f"ntfy://{token + '@' if token else ''}{host}/{topic}"

    def on(self, topic: str) -> list[dict[str, Any]]:
        """Return the messages published to `topic`, in order."""
        with self._lock:
            return [m for m in self.messages if m["topic"] == topic]

    def failure(self, status: int) -> Answer:
        """ntfy's error object for an injected failure."""
        code, text = ERRORS.get(status, (status * 100 + 1, "error"))
        return _error(status, text, code)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Check and keep one published message."""
        with self._lock:
            self.requests.append((method, path, headers, body))
        if method not in ("POST", "PUT"):
            return _error(405, "method not allowed", 40501)
        if self.tokens and _token(headers) not in self.tokens:
            return _error(401, "unauthorized", 40101)
        split = urlsplit(path)
        params = {k.lower(): v[-1] for k, v in parse_qs(split.query).items()}
        fields: dict[str, Any] = {}
        if split.path == "/":  # publish as JSON
            try:
                fields = json.loads(body or b"null")
            except ValueError:
                return _error(400, "invalid request: request body must be message JSON", 40017)
            if not isinstance(fields, dict):
                return _error(400, "invalid request: request body must be message JSON", 40017)
            topic, message = fields.get("topic"), fields.get("message", "")
        else:
            topic, message = split.path.strip("/"), body.decode("utf-8", "replace")
        if not isinstance(topic, str) or not TOPIC.match(topic):
            return _error(400, "invalid request: invalid topic", 40009)
        try:
            kept = _message(topic, str(message), fields, headers, params)
        except ValueError as exc:
            code = 40007 if str(exc).startswith("priority") else 40018  # ntfy's own codes
            return _error(400, f"invalid request: {exc}", code)
        with self._lock:
            self.messages.append(kept)
        return json_answer(200, kept)


def _message(
    topic: str,
    message: str,
    fields: dict[str, Any],
    headers: dict[str, str],
    params: dict[str, str],
) -> dict[str, Any]:
    """Return the message ntfy would keep; raise ValueError for what it refuses."""

    def read(name: str) -> Any:
        if fields.get(name) not in (None, "", []):
            return fields[name]
        for alias in ALIASES[name]:
            if alias in headers:
                return headers[alias]
            if alias in params:
                return params[alias]
        return None

    priority = read("priority")
    if priority is None:
        level = 3
    elif isinstance(priority, int) or str(priority).isdigit():
        level = int(priority)
    else:
        level = PRIORITIES.get(str(priority).lower(), 0)
    if not 1 <= level <= 5:
        raise ValueError("priority invalid")
    tags = read("tags")
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",") if t.strip()]
    kept: dict[str, Any] = {
        "id": secrets.token_urlsafe(9)[:12],
        "time": int(time.time()),
        "expires": int(time.time()) + 43200,
        "event": "message",
        "topic": topic,
        "message": message or "triggered",  # ntfy's text for an empty message
        "priority": level,
    }
    if title := read("title"):
        kept["title"] = str(title)
    if tags:
        kept["tags"] = list(tags)
    if click := read("click"):
        kept["click"] = str(click)
    if icon := read("icon"):
        kept["icon"] = str(icon)
    actions = read("actions")
    if actions is not None:
        kept["actions"] = parse_actions(actions)
    return kept


def parse_actions(value: Any) -> list[dict[str, Any]]:
    """Read actions as ntfy does: a JSON array (or its text) or the simple `;`-list format."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError("actions invalid: not JSON") from exc
    actions = value if isinstance(value, list) else _simple_actions(str(value))
    if len(actions) > 3:
        raise ValueError("actions invalid: too many actions, only 3 allowed")
    out = []
    for action in actions:
        if not isinstance(action, dict):
            raise ValueError("actions invalid: an action is an object")
        kind, label = action.get("action"), action.get("label")
        if kind not in ACTION_KINDS:
            raise ValueError(f"actions invalid: action {kind!r} unknown")
        if not label:
            raise ValueError("actions invalid: label is required")
        if kind in ("view", "http") and not action.get("url"):
            raise ValueError(f"actions invalid: url is required for action {kind!r}")
        checked = dict(action)
        if kind == "http":
            checked["method"] = str(checked.get("method") or "POST").upper()
        checked["clear"] = checked.get("clear") in (True, "true", "yes", "1")
        checked.setdefault("id", secrets.token_hex(5))
        out.append(checked)
    return out


def _simple_actions(text: str) -> list[dict[str, Any]]:
    """Parse `http, Label, https://…, method=POST, clear=true; view, …` (unquoted values)."""
    actions = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        fields = [f.strip() for f in part.split(",")]
        if len(fields) < 2:
            raise ValueError("actions invalid: action and label are required")
        action: dict[str, Any] = {"action": fields[0], "label": fields[1]}
        rest = fields[2:]
        if rest and "=" not in rest[0].split("://", 1)[0]:
            action["url"] = rest.pop(0)
        for pair in rest:
            key, sep, value = pair.partition("=")
            if not sep:
                raise ValueError(f"actions invalid: term {pair!r} is not key=value")
            if key.startswith("headers."):
                action.setdefault("headers", {})[key.removeprefix("headers.")] = value
            else:
                action[key] = value
        actions.append(action)
    return actions


def _token(headers: dict[str, str]) -> str | None:
    """Return the access token of a Bearer header or of Basic auth with an empty user."""
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credential
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(credential).decode().partition(":")
        except ValueError:
            return None
        return password if not user else None
    return None


def _error(status: int, text: str, code: int) -> Answer:
    return json_answer(
        status, {"code": code, "http": status, "error": text, "link": "https://ntfy.sh/docs"}
    )
