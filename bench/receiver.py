"""A lean loopback receiver of Slack's chat.postMessage for benchmarks: records arrival times.

It answers like Slack (`{"ok": true, "channel", "ts"}`) and notes, per idempotency key (the
message metadata warroom sends), when the message arrived (time.monotonic, which every
process on the machine shares), so a benchmark can time "request in → page out".
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from bench.common import LOOPBACK

TOKEN = "xoxb-0000000000-0000000000-benchbenchbenchbenchbench"


class Receiver:
    """Thread-per-connection HTTP server on a free loopback port."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.repeats = 0
        self.count = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The base URL to give SlackConfig.base_url."""
        return f"http://{LOOPBACK}:{self._server.server_address[1]}/api/"

    def record(self, key: str | None) -> None:
        """Note one message's arrival."""
        now = time.monotonic()
        with self._lock:
            self.count += 1
            if key is None:
                return
            if key in self.arrivals:
                self.repeats += 1
            else:
                self.arrivals[key] = now

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until `count` messages arrived; return False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count >= count:
                return True
            time.sleep(0.01)
        return False


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Type", "").startswith("application/json"):
                params = json.loads(body or b"{}")
            else:
                params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            metadata = params.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            key = None
            if isinstance(metadata, dict):
                key = (metadata.get("event_payload") or {}).get("idempotency_key")
            if self.path.endswith("chat.postMessage"):
                receiver.record(key)
            answer = {"ok": True, "channel": params.get("channel", "C1"), "ts": "1.000100"}
            if self.path.endswith("conversations.create"):
                answer["channel"] = {"id": "C0BENCH", "name": params.get("name", "x")}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
