"""Sign-in: one message for every wrong credential, bad input, throttling of failures."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.auth.test_sessions import PASSWORD, SIGN_IN, add_user
from warroom.auth import passwords
from warroom.auth import service as auth
from warroom.auth.config import AuthConfig, FailureLimit, SignInConfig
from warroom.auth.sessions import COOKIE, BrowserSession
from warroom.auth.throttle import SignInThrottle, Throttled
from warroom.config import WarroomConfig
from warroom.runtime import Runtime

WRONG = "wrong user name or password"


def session_count(runtime: Runtime) -> int:
    """Return how many session rows exist."""
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(BrowserSession)) or 0)


def limits(runtime: Runtime, *, account: int = 100, address: int = 100) -> None:
    """Configure the failure budgets (15 minutes each)."""
    window = timedelta(minutes=15)
    runtime.config_value = WarroomConfig(
        auth=AuthConfig(
            sign_in=SignInConfig(
                per_account=FailureLimit(count=account, window=window),
                per_address=FailureLimit(count=address, window=window),
            )
        )
    )


def test_every_wrong_credential_gets_the_same_answer(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime)
    with runtime.db.transaction() as session:  # a token-only account and a disabled one
        auth.create_user(session, name="bot", role="viewer", now=runtime.clock.now())
        gone = auth.create_user(
            session, name="gone", role="admin", now=runtime.clock.now(), password=PASSWORD
        )
        gone.disabled_at = runtime.clock.now()
    answers = [
        client.post(SIGN_IN, json={"user": user, "password": password})
        for user, password in (
            ("alice", "not it at all"),
            ("nobody", PASSWORD),
            ("bot", PASSWORD),
            ("gone", PASSWORD),
            ("ALICE", PASSWORD),  # names are exact
        )
    ]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.json()["error"] == {"code": "unauthorized", "message": WRONG, "details": None}
        assert COOKIE not in answer.headers.get("set-cookie", "")
    assert session_count(runtime) == 0


def test_form_post_signs_in(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime)
    response = client.post(SIGN_IN, data={"user": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.json()["user"] == "alice"
    assert client.cookies.get(COOKIE)
    assert session_count(runtime) == 1


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"json": {"user": "alice"}}, 422, "password: is required"),
        ({"json": {"user": "", "password": "x"}}, 422, "user:"),
        ({"json": {"user": "alice", "password": "x" * 1025}}, 422, "password:"),
        ({"json": ["alice", PASSWORD]}, 422, "body:"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        ({"content": b"user=alice", "headers": {"content-type": "text/plain"}}, 415, "form"),
        ({"data": {"user": "alice"}}, 422, "password"),
    ],
)
def test_bad_sign_in_input_is_refused_and_writes_nothing(
    client: TestClient, runtime: Runtime, kwargs: dict[str, object], status: int, message: str
) -> None:
    add_user(runtime)
    response = client.post(SIGN_IN, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert session_count(runtime) == 0


def test_openapi_describes_both_body_forms(client: TestClient) -> None:
    body = client.get("/openapi.json").json()["paths"][SIGN_IN]["post"]["requestBody"]
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        schema = body["content"][content_type]["schema"]
        assert schema["required"] == ["user", "password"]
        assert schema["properties"]["password"]["maxLength"] == 1024


def test_failures_per_account_are_throttled(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime)
    add_user(runtime, "bob")
    limits(runtime, account=3)
    for _ in range(3):
        assert client.post(SIGN_IN, json={"user": "alice", "password": "nope"}).status_code == 401
    throttled = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    assert throttled.status_code == 429  # even the right password: the budget is spent
    retry_after = int(throttled.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60
    assert throttled.json()["error"]["code"] == "too_many_requests"
    assert throttled.json()["error"]["details"] == {"retry_after": retry_after}
    assert session_count(runtime) == 0
    # Names are counted case-blind; another account from the same address is not held up.
    assert client.post(SIGN_IN, json={"user": "Alice", "password": "x"}).status_code == 429
    assert client.post(SIGN_IN, json={"user": "bob", "password": PASSWORD}).status_code == 200


def test_failures_per_address_are_throttled(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime)
    limits(runtime, address=4)
    for name in ("a1", "a2", "a3", "a4"):  # unknown names count too
        assert client.post(SIGN_IN, json={"user": name, "password": "nope"}).status_code == 401
    throttled = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD})
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    assert session_count(runtime) == 0


def test_successful_sign_ins_do_not_count(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime)
    limits(runtime, account=2, address=2)
    for _ in range(4):
        assert client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD}).status_code == 200
    assert client.post(SIGN_IN, json={"user": "alice", "password": "x"}).status_code == 401


def test_the_window_passes() -> None:
    config = SignInConfig(
        per_account=FailureLimit(count=2, window=timedelta(seconds=1)),
        per_address=FailureLimit(count=50, window=timedelta(minutes=1)),
    )
    throttle = SignInThrottle()
    for _ in range(2):
        throttle.check(config, account="alice", address="10.0.0.1")
        throttle.failed(config, account="alice", address="10.0.0.1")
    with pytest.raises(Throttled) as caught:
        throttle.check(config, account="alice", address="10.0.0.1")
    assert caught.value.retry_after == 1
    throttle.check(config, account="bob", address="10.0.0.1")  # another account is free
    time.sleep(1.1)
    throttle.check(config, account="alice", address="10.0.0.1")  # the window has passed


def test_auth_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="idle_timeout cannot be longer than absolute_timeout"):
        WarroomConfig.model_validate(
            {"auth": {"sessions": {"idle_timeout": "2d", "absolute_timeout": "1d"}}}
        )
    with pytest.raises(ValueError, match="not a duration"):
        WarroomConfig.model_validate({"auth": {"sessions": {"idle_timeout": 30}}})
    with pytest.raises(ValueError, match="window must be between 1s and 1d"):
        WarroomConfig.model_validate(
            {"auth": {"sign_in": {"per_account": {"count": 5, "window": "2d"}}}}
        )
    with pytest.raises(ValueError, match="secure_cookie"):
        WarroomConfig.model_validate({"auth": {"sessions": {"secure_cookie": "yes"}}})
    parsed = WarroomConfig.model_validate(
        {"auth": {"sessions": {"idle_timeout": "1h", "absolute_timeout": "1d"}}}
    )
    assert parsed.auth.sessions.idle_timeout == timedelta(hours=1)
    assert parsed.auth.sign_in.per_account.count == 5  # defaults where not given


def test_unknown_users_cost_an_argon2_check(monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []

    class Spy(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            checked.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "_hasher", Spy())
    assert passwords.check_password(None, PASSWORD) is False
    assert checked == [passwords._dummy_hash()]
    assert checked[0].startswith("$argon2id$")
