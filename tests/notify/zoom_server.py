"""A loopback stand-in for Zoom's OAuth and meetings API, speaking Zoom's wire format.

It checks what Zoom checks (HTTP Basic client credentials, `grant_type=account_credentials`,
the account id, bearer tokens and their expiry, JSON bodies), records every request, and can
be told to fail: an HTTP status (with Retry-After), a hang past the client's timeout, or a
revocation of every token it has issued.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Fault:
    """What to do instead of answering, for the next `times` requests under `path`."""

    path: str
    times: int
    status: int = 500
    body: dict[str, Any] = field(default_factory=dict)
    retry_after: str | None = None
    hang: float = 0.0


class ZoomServer:
    """Zoom's `/oauth/token` and `/v2/users/{user}/meetings` on 127.0.0.1."""

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        expires_in: int = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_id = account_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.clock = clock
        self.requests: list[Request] = []
        self.tokens: dict[str, float] = {}  # token -> expiry on `clock`
        self.meetings: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._numbers = 85000000000  # meeting ids, 11 digits like Zoom's
        self._lock = threading.Lock()
        self._release = threading.Event()  # ends hanging handlers at shutdown
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """Return the base URL (for both `oauth_url` and `api_url`)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Release hanging requests and stop serving."""
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def fail(
        self,
        path: str,
        *,
        status: int = 500,
        times: int = 1,
        body: dict[str, Any] | None = None,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next `times` requests under `path` with `status`."""
        with self._lock:
            self._faults.append(Fault(path, times, status, body or {}, retry_after))

    def hang(self, path: str, *, seconds: float, times: int = 1) -> None:
        """Hold the next `times` requests under `path` for `seconds` before answering."""
        with self._lock:
            self._faults.append(Fault(path, times, hang=seconds))

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (as deactivating the app would)."""
        with self._lock:
            self.tokens.clear()

    def token_requests(self) -> list[Request]:
        """Return the requests made to the token endpoint."""
        return [r for r in self.requests if r.path == "/oauth/token"]

    def meeting_requests(self) -> list[Request]:
        """Return the requests made to the meetings endpoint."""
        return [r for r in self.requests if r.path.endswith("/meetings")]

    # The handler calls these with the server's state.

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def _issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = self.clock() + self.expires_in
        return token

    def _token_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self.tokens.get(token)
        return expiry is not None and self.clock() < expiry


def _handler_for(server: ZoomServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_POST(self) -> None:
            """Answer a token or meeting request the way Zoom does."""
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                "POST", split.path, parse_qs(split.query), dict(self.headers.items()), body
            )
            with server._lock:
                server.requests.append(request)
            fault = server._take_fault(split.path)
            if fault is not None and fault.hang:
                server._release.wait(fault.hang)
            elif fault is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                self._reply(fault.status, fault.body or {"code": fault.status}, headers)
                return
            if split.path == "/oauth/token":
                self._token(request)
            elif split.path.startswith("/v2/users/") and split.path.endswith("/meetings"):
                self._meeting(request)
            else:
                self._reply(404, {"code": 404, "message": "Not found."})

        def _token(self, request: Request) -> None:
            expected = f"{server.client_id}:{server.client_secret}".encode()
            basic = "Basic " + base64.b64encode(expected).decode()
            if request.headers.get("Authorization") != basic:
                self._reply(
                    400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
                )
            elif request.query.get("grant_type") != ["account_credentials"]:
                self._reply(
                    400, {"reason": "unsupported grant type", "error": "unsupported_grant_type"}
                )
            elif request.query.get("account_id") != [server.account_id]:
                self._reply(400, {"reason": "Invalid account_id", "error": "invalid_request"})
            else:
                self._reply(
                    200,
                    {
                        "access_token": server._issue_token(),
                        "token_type": "bearer",
                        "expires_in": server.expires_in,
                        "scope": "meeting:write:meeting:admin",
                        "api_url": server.url,
                    },
                )

        def _meeting(self, request: Request) -> None:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or not server._token_valid(auth[7:]):
                self._reply(401, {"code": 124, "message": "Invalid access token."})
                return
            if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
                self._reply(415, {"code": 415, "message": "Unsupported Media Type"})
                return
            try:
                body = request.json()
                topic, kind = body["topic"], body["type"]
            except (ValueError, KeyError, TypeError):
                self._reply(400, {"code": 300, "message": "Validation Failed."})
                return
            if not isinstance(topic, str) or len(topic) > 200 or kind not in (1, 2, 3, 8):
                self._reply(400, {"code": 300, "message": "Validation Failed."})
                return
            with server._lock:
                server._numbers += 1
                number = server._numbers
            password = secrets.token_hex(3)
            meeting = {
                "id": number,
                "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
                "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
                "topic": topic,
                "type": kind,
                "status": "waiting",
                "agenda": body.get("agenda", ""),
                "start_url": f"https://zoom.example/s/{number}?zak=start",
                "join_url": f"https://zoom.example/j/{number}?pwd={password}",
                "password": password,
                "settings": body.get("settings", {}),
            }
            with server._lock:
                server.meetings.append(meeting)
            self._reply(201, meeting)

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (timeout tests)
                self.wfile.write(data)

    return Handler


@contextmanager
def running(**kwargs: Any) -> Iterator[ZoomServer]:
    """Run a ZoomServer for the length of a `with` block."""
    server = ZoomServer(**kwargs)
    server.start()
    try:
        yield server
    finally:
        server.stop()
