"""A lean loopback receiver of Slack's Web API for benchmarks, in a process of its own.

It checks the bearer token and answers like Slack (`{"ok": true, …}`, or `invalid_auth`
and `not_authed` with HTTP 200), and writes, per message, its idempotency key (the
metadata warroom sends) and when it arrived (time.monotonic, which every process on the
machine shares) to a log file, so a benchmark can time "request in → page out" without the
receiver competing with warroom for one interpreter lock.

    python -m bench.receiver LOGFILE      # prints the port it listens on, then serves
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

import orjson

from bench.common import LOOPBACK

TOKEN = "xoxb-0000000000-0000000000-benchbenchbenchbenchbench"


class Receiver:
    """The receiver process, seen from the benchmark: its URL and what arrived."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.arrivals: dict[str, float] = {}
        self.repeats = 0
        self.count = 0
        self._offset = 0
        self._process: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> Receiver:
        self.log_path.write_text("")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.receiver", str(self.log_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.port = int(self._process.stdout.readline())
        return self

    @property
    def pid(self) -> int:
        """The receiver's process id (its CPU time is in /proc/<pid>/stat)."""
        assert self._process is not None, "enter the receiver first"
        return self._process.pid

    def __exit__(self, *_: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)

    @property
    def url(self) -> str:
        """The base URL to give SlackConfig.base_url."""
        return f"http://{LOOPBACK}:{self.port}/api/"

    def poll(self) -> None:
        """Read the arrivals logged since the last call."""
        with open(self.log_path, "rb") as log:
            log.seek(self._offset)
            data = log.read()
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self._offset += end
        for line in data[:end].decode().splitlines():
            key, _, at = line.rpartition(" ")
            self.count += 1
            if key in self.arrivals:
                self.repeats += 1
            elif key:
                self.arrivals[key] = float(at)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until `count` messages arrived; return False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if self.count >= count:
                return True
            time.sleep(0.02)
        return False

    def arrival(self, key: str, timeout: float) -> float | None:
        """Wait for one message; return when it arrived (monotonic), or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll()
            if key in self.arrivals:
                return self.arrivals[key]
            time.sleep(0.0005)
        return None


def _app(log: IO[str]) -> Any:
    """A raw ASGI app (no framework): the receiver must be much faster than the sender."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = dict(scope["headers"])
        token = ""
        if headers.get(b"content-type", b"").startswith(b"application/json"):
            params = orjson.loads(body or b"{}")  # Slack ignores a token in a JSON body
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            token = params.pop("token", "")
        authorization = headers.get(b"authorization", b"")
        if authorization.startswith(b"Bearer "):
            token = authorization[7:].decode()
        path = scope["path"]
        answer: dict[str, Any] = {"ok": True, "channel": params.get("channel", "C1")}
        if token != TOKEN:  # as Slack refuses a call: HTTP 200, ok=false
            answer = {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        elif path.endswith("chat.postMessage"):
            metadata = params.get("metadata")
            if isinstance(metadata, str):
                metadata = orjson.loads(metadata)
            key = ""
            if isinstance(metadata, dict):
                key = str((metadata.get("event_payload") or {}).get("idempotency_key", ""))
            log.write(f"{key} {time.monotonic()}\n")
            log.flush()
            answer["ts"] = "1700000000.000100"
        elif path.endswith("conversations.create"):
            answer["channel"] = {"id": "C0BENCH", "name": params.get("name", "x")}
        data = orjson.dumps(answer)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": data})

    return app


def main(argv: list[str]) -> None:
    """Serve on a free loopback port, print it, log arrivals to the file named."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    print(sock.getsockname()[1], flush=True)
    with open(argv[0], "a", encoding="utf-8") as log:
        config = uvicorn.Config(_app(log), log_level="warning", access_log=False, lifespan="off")
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
