"""Live updates in tests: listening on the bus, serving an app on a loopback port, and
reading its server-sent-event stream."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from tests.conftest import free_port
from warroom.runtime import Runtime
from warroom.storage.bus import LiveEvent


@dataclass
class Sse:
    """One event of the stream."""

    event: str
    id: str | None
    data: str

    def json(self) -> Any:
        """Return the data as JSON."""
        return json.loads(self.data)


class Stream:
    """An open `GET /events`: read its events in order (a read waits a few seconds at most)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()
        self.retry: int | None = None

    def next(self) -> Sse:
        """Return the next event (comments and retry fields are read past)."""
        event, ident, data = "message", None, list[str]()
        for line in self.lines:
            if line == "":
                if data or event != "message":
                    return Sse(event, ident, "\n".join(data))
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "id":
                ident = value
            elif name == "data":
                data.append(value)
            elif name == "retry":
                self.retry = int(value)
        raise EOFError("the stream ended")

    def ready(self) -> Stream:
        """Wait for the stream's first frame: from then on it is subscribed."""
        for line in self.lines:
            if line.startswith("retry:"):
                self.retry = int(line.removeprefix("retry:"))
            if line == "":
                return self
        raise EOFError("the stream ended before it started")

    def timeline(self, count: int) -> list[Sse]:
        """Return the next `count` events, which must be timeline events."""
        got = [self.next() for _ in range(count)]
        assert [e.event for e in got] == ["timeline"] * count, got
        return got


@contextmanager
def stream(
    base: str, headers: dict[str, str], path: str = "/events", timeout: float = 20.0
) -> Iterator[Stream]:
    """Open an event stream; yield it once the server has subscribed it."""
    # A generous timeout: it only bounds a failure (every test waits for an event that comes),
    # and a loaded CI machine has taken more than 5 s to answer a second instance's stream.
    with (
        httpx.Client(base_url=base, timeout=timeout) as client,
        client.stream("GET", path, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        yield Stream(response).ready()


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serve `app` over a real socket on 127.0.0.1; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def listen(
    runtime: Runtime,
    work: Callable[[], Any],
    count: int = 1,
    until: Callable[[list[LiveEvent]], bool] | None = None,
) -> list[LiveEvent]:
    """Subscribe to the bus, run `work` on a thread, and return what was published: the
    first `count` events, or (with `until`) every event until `until` holds."""

    async def main() -> list[LiveEvent]:
        subscription = runtime.live.subscribe(asyncio.get_running_loop())
        try:
            if runtime.live.postgres:  # LISTEN must be in place before the commit
                assert await asyncio.to_thread(runtime.live.listening.wait, 5)
            await asyncio.to_thread(work)
            got: list[LiveEvent] = []
            while not (until(got) if until else len(got) >= count):
                got += await asyncio.wait_for(subscription.get(), 5)
            return got
        finally:
            runtime.live.unsubscribe(subscription)

    return asyncio.run(main())
