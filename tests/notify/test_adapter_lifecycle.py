"""Clients of a replaced configuration close after their last send; Slack keeps connections."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.notify.slack_server import TOKEN, SlackServer
from warroom.app import build_runtime
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.notify import outbox
from warroom.notify.messages import Post
from warroom.notify.models import Notification
from warroom.notify.outbox import Message
from warroom.notify.ports import DeliveryError
from warroom.notify.slack import SlackChat
from warroom.notify.slack_config import SlackConfig
from warroom.runtime import Runtime
from warroom.settings import Settings

SLACK_YAML = """
integrations:
  slack:
    signing_secret: "{secret}"
    bot_token: "{token}"
    base_url: "{url}"
"""


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The Slack the configuration names first."""
    with SlackServer() as server:
        server.add_channel("pages")
        yield server


@pytest.fixture
def other_slack() -> Iterator[SlackServer]:
    """The Slack a reloaded configuration names instead."""
    with SlackServer() as server:
        server.add_channel("pages")
        yield server


def _write(path: Path, slack: SlackServer) -> Path:
    path.write_text(SLACK_YAML.format(secret="s" * 32, token=TOKEN, url=slack.url))
    return path


@pytest.fixture
def config_file(tmp_path: Path, slack: SlackServer) -> Path:
    return _write(tmp_path / "warroom.yaml", slack)


@pytest.fixture
def settings(settings: Settings, config_file: Path) -> Settings:
    settings.config = config_file
    return settings


@pytest.fixture
def config(config_file: Path) -> WarroomConfig:
    from warroom.config import load_config

    return load_config(config_file)


def _queue(runtime: Runtime, clock: FrozenClock, key: str) -> None:
    with runtime.db.transaction() as session:
        outbox.enqueue(
            session,
            [Message(key, "#pages", Post(text=key))],
            now=clock.now(),
            retry=runtime.config().notifications.retry,
        )


def _status(runtime: Runtime, key: str) -> str:
    with runtime.db.session() as session:
        return str(session.scalar(select(Notification.status).where(Notification.key == key)))


def _wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_reload_mid_send_closes_the_old_clients_right_after_that_send(
    runtime: Runtime,
    clock: FrozenClock,
    slack: SlackServer,
    other_slack: SlackServer,
    config_file: Path,
) -> None:
    old = runtime.adapters()
    _queue(runtime, clock, "slow-one")
    slack.hang(times=1, sleep=30, deliver=True)  # posted, but answered only on recover()
    sending = threading.Thread(target=runtime.engine.sender.send_due)
    sending.start()
    _wait_until(lambda: len(slack.calls) == 1)
    assert old.in_flight == 1

    _write(config_file, other_slack)
    runtime.reload_config(by="test")
    assert runtime.adapters() is not old
    time.sleep(0.1)
    assert not old.closed, "closed under a send still in flight"

    slack.recover()
    sending.join(timeout=10)
    assert _status(runtime, "slow-one") == "sent"
    assert old.closed and old.in_flight == 0

    _queue(runtime, clock, "next-one")
    runtime.engine.sender.send_due()
    assert other_slack.keys() == ["next-one"]  # the new configuration's Slack
    assert [call.key for call in slack.calls] == ["slow-one"]
    assert not runtime.adapters().closed


def test_a_reload_with_nothing_in_flight_closes_the_old_clients_at_once(
    runtime: Runtime, clock: FrozenClock, other_slack: SlackServer, config_file: Path
) -> None:
    old = runtime.adapters()
    _write(config_file, other_slack)
    runtime.reload_config(by="test")
    assert old.closed
    assert not runtime.adapters().closed
    assert old.acquire() is False  # no send may start on retired clients

    _queue(runtime, clock, "after-reload")
    runtime.engine.sender.send_due()
    assert other_slack.keys() == ["after-reload"]


def test_shutdown_closes_the_clients_in_force(settings: Settings, config: WarroomConfig) -> None:
    runtime = build_runtime(settings, config=config, upgrade=False)
    current = runtime.adapters()
    runtime.close()
    assert current.closed


class _KeepAliveSlack(BaseHTTPRequestHandler):
    """chat.postMessage over HTTP/1.1 keep-alive; counts the connections it accepted."""

    protocol_version = "HTTP/1.1"
    connections = 0
    close_after: int | None = None  # drop the connection after this many answers on it

    def setup(self) -> None:
        super().setup()
        type(self).connections += 1
        self.answered = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"ok": true, "channel": "C0001", "ts": "1700000000.000100"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.answered += 1
        if self.close_after is not None and self.answered >= self.close_after:
            self.close_connection = True  # as a server dropping an idle connection does


@pytest.fixture
def keep_alive() -> Iterator[tuple[str, type[_KeepAliveSlack]]]:
    handler = type("Handler", (_KeepAliveSlack,), {"connections": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}).start()
    host, port = server.server_address[:2]
    yield f"http://{host!s}:{port}/api/", handler
    server.shutdown()
    server.server_close()


def _chat(url: str) -> SlackChat:
    return SlackChat(SlackConfig(signing_secret="s" * 32, bot_token=TOKEN, base_url=url))


def test_slack_posts_reuse_one_connection_per_thread(
    keep_alive: tuple[str, type[_KeepAliveSlack]],
) -> None:
    url, handler = keep_alive
    chat = _chat(url)
    for number in range(20):
        assert chat.post(channel="C0001", text="hi", key=f"k{number}") == "1700000000.000100"
    assert handler.connections == 1
    chat.close()


def test_a_connection_the_server_dropped_is_replaced_without_losing_the_post(
    keep_alive: tuple[str, type[_KeepAliveSlack]],
) -> None:
    url, handler = keep_alive
    handler.close_after = 1
    chat = _chat(url)
    for number in range(3):
        assert chat.post(channel="C0001", text="hi", key=f"k{number}") == "1700000000.000100"
    assert handler.connections == 3
    chat.close()


def test_an_unreachable_slack_is_a_temporary_delivery_error() -> None:
    chat = _chat("http://127.0.0.1:9/api/")  # the discard port: nothing listens
    with pytest.raises(DeliveryError, match="cannot reach Slack") as caught:
        chat.post(channel="C0001", text="hi", key="k")
    assert not caught.value.permanent


def test_slack_sdk_debug_lines_quoting_the_message_stay_out_of_the_logs(
    keep_alive: tuple[str, type[_KeepAliveSlack]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    chat = _chat(keep_alive[0])
    chat.post(channel="C0001", text="Payroll export leaked", key="k1")
    chat.close()
    assert "Payroll export leaked" not in caplog.text
