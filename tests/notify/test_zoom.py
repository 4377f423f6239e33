"""The Zoom adapter against a loopback Zoom (tests/notify/zoom_server.py), over a real socket."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from tests.notify.zoom_server import ZoomServer, running
from warroom.notify.ports import DeliveryError
from warroom.notify.zoom import ZoomConference
from warroom.notify.zoom_config import ZoomConfig

ACCOUNT = "acct-Zx81kQ"
CLIENT = "client-7HqP2w"
SECRET = "s3cr3t-Yb5Lm0"  # distinctive, so a leak into an error is found
CREDENTIALS = {"account_id": ACCOUNT, "client_id": CLIENT, "client_secret": SECRET}


class Ticks:
    """A monotonic clock shared by the client and the server, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def zoom(ticks: Ticks) -> Iterator[ZoomServer]:
    with running(**CREDENTIALS, clock=ticks) as server:
        yield server


def conference(server: ZoomServer, ticks: Ticks, **overrides: Any) -> ZoomConference:
    raw: dict[str, Any] = {
        **CREDENTIALS,
        "oauth_url": server.url,
        "api_url": server.url,
        **overrides,
    }
    return ZoomConference(ZoomConfig.model_validate(raw), monotonic=ticks)


@pytest.fixture
def client(zoom: ZoomServer, ticks: Ticks) -> Iterator[ZoomConference]:
    adapter = conference(zoom, ticks)
    yield adapter
    adapter.close()


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error)):
        for secret in (SECRET, CLIENT, ACCOUNT, base64.b64encode(f"{CLIENT}:{SECRET}".encode())):
            assert str(secret) not in text


def test_meeting_is_created_with_zoom_wire_format(zoom: ZoomServer, client: ZoomConference):
    meeting = client.create_meeting(topic="INC-42 Checkout down", key="k-42-room")

    assert meeting.id == str(zoom.meetings[0]["id"])
    assert meeting.join_url == zoom.meetings[0]["join_url"]
    (token_request,) = zoom.token_requests()
    assert token_request.query == {"grant_type": ["account_credentials"], "account_id": [ACCOUNT]}
    (request,) = zoom.meeting_requests()
    assert request.path == "/v2/users/me/meetings"
    assert request.headers["Authorization"].startswith("Bearer ")
    body = request.json()
    assert body["topic"] == "INC-42 Checkout down"
    assert body["type"] == 1
    assert body["settings"] == {"join_before_host": True, "waiting_room": False}
    assert "k-42-room" in body["agenda"]


def test_token_is_cached_across_meetings(zoom: ZoomServer, client: ZoomConference):
    first = client.create_meeting(topic="INC-1", key="a")
    second = client.create_meeting(topic="INC-2", key="b")

    assert first.id != second.id
    assert len(zoom.token_requests()) == 1
    tokens = {r.headers["Authorization"] for r in zoom.meeting_requests()}
    assert len(tokens) == 1


def test_token_is_refreshed_shortly_before_expiry(
    zoom: ZoomServer, client: ZoomConference, ticks: Ticks
):
    client.create_meeting(topic="INC-1", key="a")
    ticks.now += 3000  # still well within the hour
    client.create_meeting(topic="INC-2", key="b")
    assert len(zoom.token_requests()) == 1

    ticks.now += 570  # 30 s before expiry: inside the early-refresh margin
    client.create_meeting(topic="INC-3", key="c")
    assert len(zoom.token_requests()) == 2
    auth = [r.headers["Authorization"] for r in zoom.meeting_requests()]
    assert auth[0] == auth[1] != auth[2]


def test_short_lived_tokens_are_refreshed_after_expiry(zoom: ZoomServer, ticks: Ticks):
    zoom.expires_in = 10
    adapter = conference(zoom, ticks)
    try:
        adapter.create_meeting(topic="INC-1", key="a")
        ticks.now += 11
        adapter.create_meeting(topic="INC-2", key="b")
    finally:
        adapter.close()
    assert len(zoom.token_requests()) == 2
    assert len(zoom.meetings) == 2


def test_revoked_token_is_refreshed_once(zoom: ZoomServer, client: ZoomConference):
    client.create_meeting(topic="INC-1", key="a")
    zoom.revoke_tokens()

    meeting = client.create_meeting(topic="INC-2", key="b")

    assert meeting.join_url == zoom.meetings[-1]["join_url"]
    assert len(zoom.token_requests()) == 2
    assert len(zoom.meeting_requests()) == 3  # ok, 401, ok


def test_second_401_is_permanent_and_not_retried_again(zoom: ZoomServer, client: ZoomConference):
    zoom.fail("/v2/", status=401, times=5, body={"code": 124, "message": "Invalid access token."})

    with pytest.raises(DeliveryError) as caught:
        client.create_meeting(topic="INC-1", key="a")

    assert caught.value.permanent
    assert "124" in str(caught.value)
    assert len(zoom.meeting_requests()) == 2
    assert len(zoom.token_requests()) == 2
    assert_no_secret(caught.value)


@pytest.mark.parametrize(
    "wrong",
    [{"client_secret": "not-the-secret"}, {"client_id": "someone-else"}, {"account_id": "acct-x"}],
)
def test_bad_credentials_are_permanent(zoom: ZoomServer, ticks: Ticks, wrong: dict[str, str]):
    adapter = conference(zoom, ticks, **wrong)
    with pytest.raises(DeliveryError) as caught:
        adapter.create_meeting(topic="INC-1", key="a")
    adapter.close()

    assert caught.value.permanent
    assert "HTTP 400" in str(caught.value)
    assert not zoom.meeting_requests()
    for value in wrong.values():
        assert value not in str(caught.value)
    assert_no_secret(caught.value)


@pytest.mark.parametrize("path", ["/oauth/token", "/v2/"])
@pytest.mark.parametrize("status", [500, 502, 503, 408])
def test_server_errors_are_temporary(zoom: ZoomServer, client: ZoomConference, path, status):
    zoom.fail(path, status=status)

    with pytest.raises(DeliveryError) as caught:
        client.create_meeting(topic="INC-1", key="a")

    assert not caught.value.permanent
    assert f"HTTP {status}" in str(caught.value)
    assert_no_secret(caught.value)
    # The fault was one-off: the next attempt goes through.
    assert client.create_meeting(topic="INC-1", key="a").join_url.startswith("https://")


def test_rate_limit_is_temporary_and_says_when(zoom: ZoomServer, client: ZoomConference):
    zoom.fail(
        "/v2/",
        status=429,
        retry_after="7",
        body={"code": 429, "message": "You have reached the maximum per-second rate limit."},
    )
    with pytest.raises(DeliveryError) as caught:
        client.create_meeting(topic="INC-1", key="a")
    assert not caught.value.permanent
    assert "retry after 7s" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"code": 1001, "message": "User does not exist: nobody@example.com."}),
        (400, {"code": 300, "message": "Validation Failed."}),
        (403, {"code": 4711, "message": "Invalid access token, does not contain scopes."}),
    ],
)
def test_client_errors_are_permanent(zoom: ZoomServer, client: ZoomConference, status, body):
    zoom.fail("/v2/", status=status, body=body)
    with pytest.raises(DeliveryError) as caught:
        client.create_meeting(topic="INC-1", key="a")
    assert caught.value.permanent
    assert str(body["code"]) in str(caught.value)


def test_hang_past_timeout_is_temporary(zoom: ZoomServer, ticks: Ticks):
    adapter = conference(zoom, ticks, timeout=0.3)
    zoom.hang("/v2/", seconds=5)
    try:
        with pytest.raises(DeliveryError) as caught:
            adapter.create_meeting(topic="INC-1", key="a")
    finally:
        adapter.close()
    assert not caught.value.permanent
    assert "timed out" in str(caught.value)
    assert_no_secret(caught.value)


def test_token_endpoint_hang_is_temporary(zoom: ZoomServer, ticks: Ticks):
    adapter = conference(zoom, ticks, timeout=0.3)
    zoom.hang("/oauth/token", seconds=5)
    try:
        with pytest.raises(DeliveryError) as caught:
            adapter.create_meeting(topic="INC-1", key="a")
    finally:
        adapter.close()
    assert not caught.value.permanent
    assert_no_secret(caught.value)  # the token URL carries the account id


def test_connection_refused_is_temporary(ticks: Ticks):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    adapter = ZoomConference(
        ZoomConfig.model_validate({**CREDENTIALS, "oauth_url": url, "api_url": url}),
        monotonic=ticks,
    )
    with pytest.raises(DeliveryError) as caught:
        adapter.create_meeting(topic="INC-1", key="a")
    adapter.close()
    assert not caught.value.permanent
    assert "ConnectError" in str(caught.value)
    assert_no_secret(caught.value)


def test_echoed_credentials_are_blanked(zoom: ZoomServer, client: ZoomConference):
    zoom.fail("/v2/", status=400, body={"code": 300, "message": f"bad request from {CLIENT}"})
    with pytest.raises(DeliveryError) as caught:
        client.create_meeting(topic="INC-1", key="a")
    assert "***" in str(caught.value)
    assert_no_secret(caught.value)


def test_malformed_success_is_permanent(zoom: ZoomServer, client: ZoomConference):
    zoom.fail("/v2/", status=201, body={"uuid": "no id here"})
    with pytest.raises(DeliveryError) as caught:
        client.create_meeting(topic="INC-1", key="a")
    assert caught.value.permanent  # a retry could create a second room


def test_same_key_returns_the_same_meeting(zoom: ZoomServer, client: ZoomConference):
    first = client.create_meeting(topic="INC-1", key="room-1")
    again = client.create_meeting(topic="INC-1", key="room-1")
    assert again == first
    assert len(zoom.meetings) == 1


def test_concurrent_threads_share_one_token(zoom: ZoomServer, client: ZoomConference):
    results: list[str] = []
    errors: list[BaseException] = []

    def create(n: int) -> None:
        try:
            results.append(client.create_meeting(topic=f"INC-{n}", key=f"k{n}").id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not errors
    assert len(set(results)) == 8
    assert len(zoom.token_requests()) == 1


def test_scheduled_meetings_and_other_user(zoom: ZoomServer, ticks: Ticks):
    adapter = conference(zoom, ticks, meeting_type="scheduled", user="ops@example.com")
    adapter.create_meeting(topic="x" * 300, key="a")
    adapter.close()
    (request,) = zoom.meeting_requests()
    assert request.path == "/v2/users/ops@example.com/meetings"
    assert request.json()["type"] == 2
    assert len(request.json()["topic"]) == 200


def test_config_reads_env_and_rejects_unknown_fields(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", SECRET)
    config = ZoomConfig.model_validate({**CREDENTIALS, "client_secret": "env:ZOOM_CLIENT_SECRET"})
    assert config.client_secret.get_secret_value() == SECRET
    assert SECRET not in repr(config)
    assert config.timeout == 10
    assert config.wants_meeting("SEV-1")
    assert not config.wants_meeting("SEV-3")

    with pytest.raises(ValidationError):
        ZoomConfig.model_validate({**CREDENTIALS, "secret": "x"})
    with pytest.raises(ValidationError):
        ZoomConfig.model_validate({"client_id": CLIENT, "client_secret": SECRET})
    with pytest.raises(ValidationError):
        ZoomConfig.model_validate({**CREDENTIALS, "user": "../admin"})
    monkeypatch.delenv("ZOOM_CLIENT_SECRET")
    with pytest.raises(ValidationError, match="ZOOM_CLIENT_SECRET"):
        ZoomConfig.model_validate({**CREDENTIALS, "client_secret": "env:ZOOM_CLIENT_SECRET"})
