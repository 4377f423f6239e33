"""Fixtures for actions: python scripts as commands, and a loopback identity/flag API."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import PY_EXEC
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

PY = sys.executable
TOKEN = "idp-token-0123456789abcdef"  # what the loopback API expects as its bearer token
ENV_SECRET = "deploy-key-s3cr3t-value"  # given to a command through env, echoed by it


@dataclass
class Seen:
    """One request the loopback API received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class IdentityApi:
    """A small identity / feature-flag API on 127.0.0.1 that checks its bearer token."""

    url: str = ""
    mode: str = "ok"  # ok | fail | hang | big
    requests: list[Seen] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *_args: Any) -> None:  # keep test output quiet
        pass

    def _answer(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        api = self.server.api
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode()
        api.requests.append(Seen("POST", self.path, dict(self.headers.items()), body))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, b'{"error": "invalid token"}')
            return
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            self._answer(415, b'{"error": "send JSON"}')
            return
        if api.mode == "hang":
            time.sleep(3)
        if api.mode == "fail":
            self._answer(503, b'{"error": "identity store unavailable"}')
            return
        if api.mode == "big":
            self._answer(200, b"x" * 100_000, "text/plain")
            return
        self._answer(200, json.dumps({"ok": True, "path": self.path, "echo": TOKEN}).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, api: IdentityApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api


@pytest.fixture
def identity_api() -> Iterator[IdentityApi]:
    """Serve the loopback API for one test."""
    api = IdentityApi()
    server = _Server(api)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def script(code: str) -> list[str]:
    """Return argv running `code` with this Python (not `python -c`, which warroom refuses)."""
    return [*PY_EXEC, code]


def actions_config(identity_url: str, tmp: Path) -> list[dict[str, Any]]:
    """The actions the tests run."""
    return [
        {
            "name": "echo",
            "description": "Print the args it gets",
            "command": [*script("import sys; print(repr(sys.argv[1:]))"), "{incident}", "{text}"],
            "params": {"text": {"pattern": ".{1,200}"}},
        },
        {
            "name": "rollback",
            "description": "Roll back the service's last deploy",
            "dangerous": True,
            "command": [*script("import sys; print('rolled back', sys.argv[1])"), "{service}"],
        },
        {
            "name": "fail",
            "command": script("import sys; print('oops', file=sys.stderr); sys.exit(3)"),
        },
        {
            "name": "chatty",
            "command": script("import sys; sys.stdout.write('a' * 100000 + 'END')"),
        },
        {
            "name": "slow",
            "command": {
                # Starts a grandchild that writes a pid file, then both sleep past the timeout.
                "argv": script(
                    "import subprocess, sys, time\n"
                    f"child = subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(30)'])\n"
                    f"open({str(tmp / 'grandchild.pid')!r}, 'w').write(str(child.pid))\n"
                    "print('started', flush=True)\n"
                    "time.sleep(30)"
                ),
                "timeout": 1,
            },
        },
        {
            "name": "secret",
            "allowed_roles": ["admin"],
            "command": {
                "argv": script("import os; print('key is', os.environ['DEPLOY_KEY'])"),
                "env": {"DEPLOY_KEY": ENV_SECRET},
            },
        },
        {
            "name": "disable-account",
            "description": "Disable a user account at the identity provider",
            "dangerous": True,
            "http": {
                "url": identity_url + "/users/{user}/disable",
                "bearer_token": TOKEN,
                "json": {"reason": "incident {incident}", "user": "{user}"},
                "timeout": 1,
            },
            "params": {"user": {"pattern": "[a-z][a-z0-9._-]{0,63}", "description": "login"}},
        },
        {
            "name": "disable-feature",
            "http": {
                "url": identity_url + "/flags/{flag}",
                "headers": {"Authorization": f"Bearer {TOKEN}"},
                "json": {"enabled": False},
                "expect_status": [200],
                "timeout": 1,
            },
            "params": {
                "flag": {"pattern": "[a-z-]+", "required": False, "default": "new-checkout"}
            },
        },
    ]


@pytest.fixture
def config(identity_api: IdentityApi, tmp_path: Path) -> WarroomConfig:
    """The built-in configuration plus the test actions."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "checkout"}],
            "actions": actions_config(identity_api.url, tmp_path),
        }
    )


def declare(runtime: Runtime, title: str = "Checkout is down", **fields: Any) -> str:
    """Declare an incident as rita; return its ref."""
    fields.setdefault("service", "checkout")
    detail = runtime.flows.declare(actor=Actor(name="rita", source="api"), title=title, **fields)
    return detail.ref
