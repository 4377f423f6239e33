"""A loopback receiver of warroom's signed webhooks, and the failure switches our fakes share.

`WebhookReceiver(secret)` checks what a careful receiver checks — the HMAC signature over
"<timestamp>.<body>", a timestamp within five minutes, the JSON envelope — records each event
once and counts a repeated `Idempotency-Key` as a duplicate (answered 200, as an idempotent
receiver would, but not recorded again). The signature check is written here independently of
`warroom.notify.webhook.verify`, so a bug in the sender's signing cannot hide behind it.

`LoopbackServer` is the HTTP/1.1 server with `.fail()`, `.hang()` and `.recover()` that the
PagerDuty and Statuspage fakes build on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
    """Return an answer carrying `body` as JSON."""
    return (
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(body).encode(),
    )


@dataclass
class _Switch:
    remaining: int | None  # None: until recover()
    method: str | None = None  # only requests with this method trip the switch
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0
    process: bool = False

    def take(self, method: str) -> bool:
        """Use the switch once for a request; return False when it does not apply."""
        if self.method is not None and method != self.method:
            return False
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1; subclasses implement `handle`."""

    def __init__(self) -> None:
        self.attempts = 0  # every request, failed or not
        self._lock = threading.RLock()
        self._fail: _Switch | None = None
        self._hang: _Switch | None = None
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        """Listen on a free port of 127.0.0.1 in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Release hanging requests and stop listening."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:PORT."""
        assert self._server is not None, "start() the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- failure switches ---------------------------------------------------------------------

    def fail(
        self,
        status: int = 500,
        times: int | None = None,
        retry_after: int | None = None,
        *,
        method: str | None = None,
    ) -> None:
        """Answer the next `times` requests (None: all until recover) with `status`."""
        with self._lock:
            self._fail = _Switch(times, method, status=status, retry_after=retry_after)

    def hang(
        self,
        seconds: float,
        times: int | None = None,
        *,
        process: bool = False,
        method: str | None = None,
    ) -> None:
        """Hold requests `seconds` before answering, past a client's timeout.

        By default the request is then dropped unprocessed; with `process=True` it is processed
        first and only the answer is late: the lost answer that makes a sender retry.
        """
        with self._lock:
            self._release = threading.Event()
            self._hang = _Switch(times, method, seconds=seconds, process=process)

    def recover(self) -> None:
        """Turn every failure switch off and release hanging requests."""
        with self._lock:
            self._fail = None
            self._hang = None
            self._release.set()

    # -- requests ----------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one request (subclasses)."""
        raise NotImplementedError

    def failure(self, status: int) -> Answer:
        """The body of an injected failure (subclasses speak their vendor's format)."""
        return json_answer(status, {"error": "injected failure"})

    def dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> Answer | None:
        """Apply the switches, then `handle`; None means drop the connection unanswered."""
        with self._lock:
            self.attempts += 1
            hang = self._hang if self._hang is not None and self._hang.take(method) else None
            fail = self._fail if self._fail is not None and self._fail.take(method) else None
            release = self._release
        answer: Answer | None = None
        if fail is not None:
            status, extra, raw = self.failure(fail.status)
            if fail.retry_after is not None:
                extra = {**extra, "Retry-After": str(fail.retry_after)}
            answer = status, extra, raw
        elif hang is None or hang.process:
            answer = self.handle(method, path, headers, body)
        if hang is not None:
            release.wait(hang.seconds)
            if not hang.process:
                return None
        return answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout tests) is expected; stay quiet."""


def _handler(owner: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: thousands of events over a few connections
        disable_nagle_algorithm = True  # no 40 ms wait for a delayed ACK
        wbufsize = 1 << 16  # headers and body leave in one send (flushed after each request)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = owner.dispatch(self.command, self.path, headers, body)
            if answer is None:
                self.close_connection = True
                return
            status, extra, raw = answer
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# -- the webhook receiver --------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedEvent:
    """One accepted webhook."""

    event: str
    id: str
    sent_at: str
    data: dict[str, Any]
    timestamp: int
    headers: dict[str, str]
    body: bytes  # as sent, byte for byte


class WebhookReceiver(LoopbackServer):
    """Receives warroom's signed webhooks on 127.0.0.1 and counts duplicate deliveries."""

    PATH = "/hooks/warroom"

    def __init__(
        self,
        secret: str,
        *,
        tolerance: int = 300,
        duplicate_status: int = 200,
        now: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance = tolerance
        self.duplicate_status = duplicate_status
        self._now = now
        self._events: list[ReceivedEvent] = []
        self._seen: set[str] = set()
        self._duplicate_keys: list[str] = []
        self._rejections: list[tuple[int, str]] = []
        self._arrived = threading.Condition(self._lock)

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    @property
    def url(self) -> str:
        """The URL to configure as the webhook's `url`."""
        return self.base_url + self.PATH

    @property
    def events(self) -> list[ReceivedEvent]:
        """The accepted events, each idempotency key once, in arrival order."""
        with self._lock:
            return list(self._events)

    @property
    def duplicates(self) -> int:
        """How many deliveries repeated an idempotency key already accepted."""
        with self._lock:
            return len(self._duplicate_keys)

    @property
    def duplicate_keys(self) -> list[str]:
        """The repeated idempotency keys, once per repeat."""
        with self._lock:
            return list(self._duplicate_keys)

    @property
    def rejections(self) -> list[tuple[int, str]]:
        """(status, reason) of each request refused as unsigned, stale or malformed."""
        with self._lock:
            return list(self._rejections)

    def keys(self) -> list[str]:
        """Return the accepted idempotency keys in arrival order."""
        return [e.id for e in self.events]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until `count` events were accepted; return whether they were in time."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self._events) >= count, timeout)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Check the request as a careful receiver would, then accept it once."""
        if method != "POST" or path != self.PATH:
            return self._reject(404, f"no {method} {path}")
        if headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return self._reject(415, "Content-Type must be application/json")
        stamp = headers.get("x-warroom-timestamp", "")
        if not stamp.isdigit():
            return self._reject(400, "missing X-Warroom-Timestamp")
        if abs(self._now() - int(stamp)) > self.tolerance:
            return self._reject(401, "timestamp outside the tolerance (replay?)")
        digest = hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        offered = headers.get("x-warroom-signature", "").split(",")
        if not any(hmac.compare_digest(o.strip(), "v1=" + digest.hexdigest()) for o in offered):
            return self._reject(401, "bad signature")
        try:
            envelope = json.loads(body)
            event = ReceivedEvent(
                event=envelope["event"],
                id=envelope["id"],
                sent_at=envelope["sent_at"],
                data=envelope["data"],
                timestamp=int(stamp),
                headers=headers,
                body=body,
            )
        except (ValueError, KeyError, TypeError):
            return self._reject(400, "not a warroom event envelope")
        if headers.get("idempotency-key") != event.id:
            return self._reject(400, "Idempotency-Key differs from the body's id")
        if headers.get("x-warroom-event") != event.event:
            return self._reject(400, "X-Warroom-Event differs from the body's event")
        with self._arrived:
            if event.id in self._seen:
                self._duplicate_keys.append(event.id)
                return json_answer(self.duplicate_status, {"ok": True, "duplicate": True})
            self._seen.add(event.id)
            self._events.append(event)
            self._arrived.notify_all()
        return json_answer(200, {"ok": True})

    def _reject(self, status: int, reason: str) -> Answer:
        with self._lock:
            self._rejections.append((status, reason))
        return json_answer(status, {"error": reason})
