"""One request-size limit for every route, `server.max_request_bytes` (issue 15, hardening):
a body over it is refused with 413 before the route runs and without reading all of it."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.incidents.models import Incident
from warroom.runtime import Runtime

MiB = 1024 * 1024


def count(runtime: Runtime) -> int:
    """Return how many incidents the database holds."""
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Incident)) or 0)


def raw(live_server: str, head: str, body_parts: list[bytes]) -> str:
    """Send a request over a socket, stop sending at the first refusal; return the status line."""
    parts = urlsplit(live_server)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for part in body_parts:
                sock.sendall(part)
        except OSError:
            pass  # the server answered and closed: it would read no more
        answer = b""
        while b"\r\n\r\n" not in answer:
            got = sock.recv(65536)
            if not got:
                break
            answer += got
    return answer.split(b"\r\n", 1)[0].decode()


def test_a_30_mb_json_body_is_refused_before_the_route_runs(
    api: TestClient, runtime: Runtime
) -> None:
    huge = json.dumps({"title": "x" * (30 * MiB)})
    answer = api.post(
        "/api/v1/incidents", content=huge, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "too_large" and "server.max_request_bytes" in error["message"]
    assert count(runtime) == 0
    # Normal requests are unaffected.
    assert api.post("/api/v1/incidents", json={"title": "Checkout is slow"}).status_code == 201


def test_over_the_socket_the_server_answers_without_reading_the_body(
    live_server: str, runtime: Runtime, tokens: dict[str, str]
) -> None:
    head = (
        "POST /api/v1/incidents HTTP/1.1\r\nHost: warroom\r\n"
        f"Authorization: Bearer {tokens['responder']}\r\nContent-Type: application/json\r\n"
    )
    # 30 MB declared, 1 KB sent: the answer comes anyway, so the server read no further.
    declared = raw(
        live_server, head + f"Content-Length: {30 * MiB}\r\n\r\n", [b'{"title": "' + b"x" * 1024]
    )
    assert declared.split()[1] == "413", declared
    # Chunked: 2 MiB in 64 KiB chunks, never finished; the 413 comes while it streams.
    chunk = b"x" * 65536
    chunks = [b'{"title": "'] + [chunk] * 32
    body = [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks]
    streamed = raw(live_server, head + "Transfer-Encoding: chunked\r\n\r\n", body)
    assert streamed.split()[1] == "413", streamed
    assert count(runtime) == 0


def test_the_limit_is_the_configured_one_and_intake_keeps_its_own(
    api: TestClient, runtime: Runtime
) -> None:
    runtime.config_value = WarroomConfig.model_validate({"server": {"max_request_bytes": 2000}})
    assert api.post("/api/v1/incidents", json={"title": "x" * 3000}).status_code == 413
    assert api.post("/api/v1/incidents", json={"title": "Short"}).status_code == 201
    # The intake routes answer with their own limit (detection.max_body_bytes, 1 MiB).
    alert = api.post("/api/v1/intake/webhook", json={"title": "x" * 3000})
    assert alert.status_code != 413, alert.text


def test_a_form_over_the_limit_gets_an_error_page(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "sam", "admin")
    csrf = sign_in(client, "sam")
    answer = client.post("/incidents", data={"csrf_token": csrf, "title": "x" * (2 * MiB)})
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "server.max_request_bytes" in answer.text
    assert count(runtime) == 0
