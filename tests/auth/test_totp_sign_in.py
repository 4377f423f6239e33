"""Sign-in with TOTP on: a code with the password, each code once, recovery codes, throttling."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.auth.test_sessions import PASSWORD, SIGN_IN, add_user
from tests.auth.test_sign_in import WRONG, limits, session_count
from tests.auth.totp_helpers import STEP, TOTP, enrol
from warroom.auth import second_factor
from warroom.auth import service as auth
from warroom.auth.sessions import COOKIE
from warroom.auth.totp import code_at
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime


def attempt(
    client: TestClient, code: str | None = None, password: str = PASSWORD
) -> dict[str, Any]:
    """Sign in as alice and return the status and JSON body."""
    body = {"user": "alice", "password": password} | ({"code": code} if code is not None else {})
    response = client.post(SIGN_IN, json=body)
    return {"status": response.status_code, **response.json()}


def error_code(answer: dict[str, Any]) -> str:
    """Return the error code of an answer."""
    return str(answer["error"]["code"])


def test_the_password_alone_is_not_enough(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    enrol(runtime, clock)
    before = session_count(runtime)
    answer = attempt(client)
    assert answer["status"] == 401
    assert answer["error"] == {
        "code": "totp_required",
        "message": "this account has two-factor sign-in: send `code`: the 6-digit code of "
        "your authenticator app, or a recovery code",
        "details": {"field": "code"},
    }
    assert COOKIE not in client.cookies
    assert session_count(runtime) == before


def test_a_wrong_password_with_a_code_says_only_wrong_credentials(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    alice = enrol(runtime, clock)
    for code in (None, "000000", alice.code(clock)):
        answer = attempt(client, code, password="not the password")
        assert answer["status"] == 401
        assert answer["error"] == {"code": "unauthorized", "message": WRONG, "details": None}
    # The right code sent with a wrong password was not spent.
    assert attempt(client, alice.code(clock))["status"] == 200


def test_password_and_current_code_sign_in(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    alice = enrol(runtime, clock)
    answer = attempt(client, f" {alice.code(clock)} ")
    assert answer["status"] == 200, answer
    assert answer["second_factor"] == "totp" and answer["recovery_codes_left"] == 10
    assert client.get("/api/v1/me").json()["user"] == "alice"


def test_a_form_post_carries_the_code(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    alice = enrol(runtime, clock)
    form = {"user": "alice", "password": PASSWORD, "code": alice.code(clock)}
    assert client.post(SIGN_IN, data=form).status_code == 200


def test_a_code_is_accepted_once(runtime: Runtime, clock: FrozenClock, client: TestClient) -> None:
    alice = enrol(runtime, clock)
    code = alice.code(clock)
    assert attempt(client, code)["status"] == 200
    replay = attempt(TestClient(client.app), code)
    assert replay["status"] == 401 and error_code(replay) == "totp_invalid"
    assert replay["error"]["message"].startswith("wrong or already used code;")
    # A code older than the one used is refused too, even within its ±30 s window.
    older = code_at(alice.secret, clock.now() - timedelta(seconds=STEP))
    if older != code:
        assert error_code(attempt(client, older)) == "totp_invalid"
    clock.advance(timedelta(seconds=STEP))
    assert attempt(client, alice.code(clock))["status"] == 200  # the next step's code works


def test_the_window_is_one_step_either_side(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    alice = enrol(runtime, clock)
    clock.advance(timedelta(seconds=5 * STEP))
    late = code_at(alice.secret, clock.now() - timedelta(seconds=STEP))  # phone 30 s behind
    assert attempt(client, late)["status"] == 200
    early = code_at(alice.secret, clock.now() + timedelta(seconds=STEP))  # phone 30 s ahead
    assert attempt(client, early)["status"] == 200
    clock.advance(timedelta(seconds=5 * STEP))
    stale = code_at(alice.secret, clock.now() - timedelta(seconds=2 * STEP))
    if stale not in {
        alice.code(clock),
        code_at(alice.secret, clock.now() + timedelta(seconds=STEP)),
    }:
        assert error_code(attempt(client, stale)) == "totp_invalid"


def test_a_recovery_code_signs_in_once(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    alice = enrol(runtime, clock)
    code = alice.recovery_codes[0]
    answer = attempt(client, code.upper().replace("-", " "))
    assert answer["status"] == 200, answer
    assert answer["second_factor"] == "recovery_code" and answer["recovery_codes_left"] == 9
    again = attempt(TestClient(client.app), code)
    assert again["status"] == 401 and error_code(again) == "totp_invalid"
    assert alice.client.get(TOTP).json()["recovery_codes_left"] == 9
    assert attempt(client, alice.recovery_codes[1])["recovery_codes_left"] == 8


def test_wrong_codes_count_as_failed_sign_ins(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    alice = enrol(runtime, clock)
    limits(runtime, account=3)
    assert error_code(attempt(client)) == "totp_required"  # a missing code does not count
    for code in ("000000", "zzzz-zzzz-zzzz-zzzz", "999999"):
        assert error_code(attempt(client, code)) == "totp_invalid"
    throttled = client.post(
        SIGN_IN, json={"user": "alice", "password": PASSWORD, "code": alice.code(clock)}
    )
    assert throttled.status_code == 429  # even with the right code: the budget is spent
    assert int(throttled.headers["Retry-After"]) > 0


def test_wrong_codes_count_per_address_too(
    runtime: Runtime, clock: FrozenClock, client: TestClient
) -> None:
    enrol(runtime, clock)
    add_user(runtime, "bob")
    limits(runtime, address=2)
    for _ in range(2):
        assert error_code(attempt(client, "000000")) == "totp_invalid"
    bob = client.post(SIGN_IN, json={"user": "bob", "password": PASSWORD})
    assert bob.status_code == 429


def test_a_code_for_an_account_without_totp_is_ignored(
    client: TestClient, runtime: Runtime
) -> None:
    add_user(runtime)
    answer = attempt(client, "123456")
    assert answer["status"] == 200
    assert answer["second_factor"] is None and answer["recovery_codes_left"] is None


@pytest.mark.parametrize("code", ["", "x" * 65])
def test_a_bad_code_field_is_refused(
    runtime: Runtime, clock: FrozenClock, client: TestClient, code: str
) -> None:
    enrol(runtime, clock)
    answer = client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD, "code": code})
    # An empty code is no code; a 65-character one is not a code at all.
    assert answer.status_code == (401 if code == "" else 422), answer.text


def test_racing_sign_ins_with_one_code_let_one_in(runtime: Runtime, clock: FrozenClock) -> None:
    alice = enrol(runtime, clock)
    code = alice.code(clock)
    with runtime.db.session() as session:
        user_id = auth.get_user(session, "alice").id
    barrier = threading.Barrier(4)

    def race() -> second_factor.Used | None:
        barrier.wait()
        with runtime.db.transaction() as session:
            return second_factor.use_code(session, user_id=user_id, code=code, now=clock.now())

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: race(), range(4)))
    assert sum(outcome is not None for outcome in outcomes) == 1
