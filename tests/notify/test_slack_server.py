"""The Slack fake itself: what the engine tests that count every message rely on."""

from __future__ import annotations

import socket
import threading
from typing import Any

from tests.notify.slack_server import SlackServer


def test_a_burst_of_connections_waits_in_the_backlog_while_accepting_is_held() -> None:
    # Two engines post on up to 16 new connections at once. With socketserver's backlog of
    # 5, those past it while a loaded machine holds the accept loop were dropped and
    # retransmitted seconds later, past the senders' timeout: the page was then read and
    # counted "ok", and posted again by its sender (test_two_engines_send_each_notification_once
    # saw 2).
    held, accepted = threading.Event(), threading.Event()
    with SlackServer() as slack:
        server = slack._server
        assert server is not None
        process_request = server.process_request

        def hold_first(request: Any, client_address: Any) -> None:
            if not accepted.is_set():
                accepted.set()
                held.wait(10)  # the accept loop is busy: nothing else is accepted meanwhile
            process_request(request, client_address)

        server.process_request = hold_first  # type: ignore[method-assign]
        host, port = "127.0.0.1", int(server.server_address[1])
        first = socket.create_connection((host, port), timeout=5)
        assert accepted.wait(5)
        burst: list[socket.socket] = []
        try:
            for _ in range(24):
                # A dropped SYN is retransmitted after 1 s: 0.5 s tells queued from dropped.
                burst.append(socket.create_connection((host, port), timeout=0.5))
        finally:
            held.set()
            for connection in [first, *burst]:
                connection.close()
        assert len(burst) == 24
