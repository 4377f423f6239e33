"""TOTP enrolment: a secret shown once, confirmed by a first code, recovery codes, turning off."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.auth.test_sessions import PASSWORD, SIGN_IN, add_user, session_rows
from tests.auth.test_sign_in import limits
from tests.auth.totp_helpers import BEGIN, STEP, TOTP, browser, enrol, stored
from tests.conftest import make_token
from warroom.auth import totp
from warroom.auth.totp import code_at
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime


def test_enrolment_shows_a_secret_once_and_changes_nothing_until_confirmed(
    runtime: Runtime, clock: FrozenClock
) -> None:
    add_user(runtime)
    client = browser(runtime)
    begun = client.post(TOTP, json=BEGIN)
    assert begun.status_code == 201, begun.text
    assert begun.headers["cache-control"] == "no-store"
    body = begun.json()
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/warroom:alice")
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]] and query["issuer"] == ["warroom"]
    assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
    assert client.get(TOTP).json() == {
        "enabled": False,
        "pending": True,
        "confirmed_at": None,
        "recovery_codes_left": 0,
    }
    # Not on yet: the password alone still signs in.
    assert browser(runtime).get(TOTP).json()["pending"] is True
    again = client.post(TOTP, json=BEGIN)
    assert again.status_code == 201
    assert again.json()["secret"] != body["secret"]  # a restarted enrolment draws a new secret
    [row], _ = stored(runtime)
    assert row.secret == again.json()["secret"] and row.confirmed_at is None


def test_enrolment_needs_the_password_again(runtime: Runtime) -> None:
    add_user(runtime)
    client = browser(runtime)
    limits(runtime, account=2)
    refused = client.post(TOTP, json={"password": "not it"})
    assert refused.status_code == 403 and refused.json()["error"]["message"] == "wrong password"
    assert client.post(TOTP, json={"password": "x" * 1025}).status_code == 422
    assert client.post(TOTP, json={}).status_code == 422
    assert stored(runtime) == ([], [])
    assert client.post(TOTP, json={"password": "again not"}).status_code == 403
    throttled = client.post(TOTP, json=BEGIN)  # two wrong passwords: the budget is spent
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0


def test_a_wrong_first_code_is_refused_and_changes_nothing(
    runtime: Runtime, clock: FrozenClock
) -> None:
    add_user(runtime)
    client = browser(runtime)
    secret = client.post(TOTP, json=BEGIN).json()["secret"]
    stale = code_at(secret, clock.now() - timedelta(seconds=3 * STEP))
    for code in ("000000" if stale != "000000" else "111111", stale, "12345", "abcdef"):
        refused = client.post(f"{TOTP}/confirm", json={"code": code})
        assert refused.status_code == 422, (code, refused.text)
        assert refused.json()["error"]["message"].startswith("wrong code;")
    assert client.post(f"{TOTP}/confirm", json={}).status_code == 422
    assert client.post(f"{TOTP}/confirm", json={"code": "1" * 65}).status_code == 422
    [row], codes = stored(runtime)
    assert row.confirmed_at is None and codes == []


def test_confirming_turns_totp_on_with_ten_recovery_codes_stored_as_digests(
    runtime: Runtime, clock: FrozenClock
) -> None:
    add_user(runtime)
    other = browser(runtime)  # signed in with the password alone, elsewhere
    client = browser(runtime)
    secret = client.post(TOTP, json=BEGIN).json()["secret"]
    confirmed = client.post(f"{TOTP}/confirm", json={"code": code_at(secret, clock.now())})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.headers["cache-control"] == "no-store"
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"([a-z2-9]{4}-){3}[a-z2-9]{4}", code) for code in codes)
    [row], rows = stored(runtime)
    assert row.confirmed_at == clock.now() and row.last_step is not None
    assert {r.digest for r in rows} == {totp.recovery_digest(code) for code in codes}
    assert not {code.replace("-", "") for code in codes} & {r.digest for r in rows}
    status = client.get(TOTP).json()
    assert status["enabled"] is True and status["recovery_codes_left"] == 10
    # The session that confirmed stays; one signed in with the password alone ends.
    assert other.get("/api/v1/me").status_code == 401
    assert [r.end_reason for r in session_rows(runtime)] == ["two-factor turned on", None]
    assert client.post(TOTP, json=BEGIN).status_code == 409  # already on: turn it off first
    assert client.post(f"{TOTP}/confirm", json={"code": "123456"}).status_code == 409


def test_enrolment_needs_a_password_account_and_a_started_enrolment(
    runtime: Runtime, client: TestClient
) -> None:
    token = make_token(runtime, "bot", "viewer")  # a token-only account
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post(TOTP, json=BEGIN, headers=headers)
    assert refused.status_code == 409
    assert "bot has no password" in refused.json()["error"]["message"]
    nothing = client.post(f"{TOTP}/confirm", json={"code": "123456"}, headers=headers)
    assert nothing.status_code == 409
    assert "no enrolment to confirm" in nothing.json()["error"]["message"]
    off = client.request("DELETE", TOTP, json={"password": "whatever"}, headers=headers)
    assert off.status_code == 409
    assert client.get(TOTP).status_code == 401
    assert stored(runtime) == ([], [])


def test_an_api_token_can_enrol_its_user(
    runtime: Runtime, client: TestClient, clock: FrozenClock
) -> None:
    add_user(runtime)
    with runtime.db.transaction() as session:
        from warroom.auth import service as auth

        user = auth.get_user(session, "alice")
        token = auth.create_token(session, user=user, name="cli", now=clock.now())
    client.headers["Authorization"] = f"Bearer {token}"
    secret = client.post(TOTP, json=BEGIN).json()["secret"]
    confirmed = client.post(f"{TOTP}/confirm", json={"code": code_at(secret, clock.now())})
    assert confirmed.status_code == 200, confirmed.text
    assert client.get(TOTP).json()["enabled"] is True


def test_turning_off_needs_a_code_a_recovery_code_or_the_password(
    runtime: Runtime, clock: FrozenClock
) -> None:
    alice = enrol(runtime, clock)
    client = alice.client
    assert client.request("DELETE", TOTP, json={}).status_code == 422
    wrong = client.request("DELETE", TOTP, json={"password": "not the password"})
    assert wrong.status_code == 403 and wrong.json()["error"]["message"] == "wrong password"
    bad_code = client.request("DELETE", TOTP, json={"code": "000000"})
    assert bad_code.status_code == 403
    assert client.get(TOTP).json()["enabled"] is True
    assert client.request("DELETE", TOTP, json={"password": PASSWORD}).status_code == 204
    assert stored(runtime) == ([], [])
    assert client.request("DELETE", TOTP, json={"password": PASSWORD}).status_code == 409
    # Off: the password alone signs in again.
    assert client.post(SIGN_IN, json={"user": "alice", "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("proof", ["code", "recovery"])
def test_turning_off_with_a_code(runtime: Runtime, clock: FrozenClock, proof: str) -> None:
    alice = enrol(runtime, clock)
    code = alice.code(clock) if proof == "code" else alice.recovery_codes[3].upper()
    off = alice.client.request("DELETE", TOTP, json={"code": code})
    assert off.status_code == 204, off.text
    assert alice.client.get(TOTP).json()["enabled"] is False


def test_a_pending_enrolment_is_cancelled_without_proof(runtime: Runtime) -> None:
    add_user(runtime)
    client = browser(runtime)
    client.post(TOTP, json=BEGIN)
    assert client.request("DELETE", TOTP, json={}).status_code == 204  # it never guarded anything
    assert stored(runtime) == ([], [])


def test_wrong_proofs_when_turning_off_are_throttled(runtime: Runtime, clock: FrozenClock) -> None:
    alice = enrol(runtime, clock)
    limits(runtime, account=2)
    for _ in range(2):
        assert alice.client.request("DELETE", TOTP, json={"password": "guess"}).status_code == 403
    throttled = alice.client.request("DELETE", TOTP, json={"password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert alice.client.get(TOTP).json()["enabled"] is True
    # The same budget as sign-in: the account cannot sign in either.
    fresh = TestClient(alice.client.app)
    assert fresh.post(SIGN_IN, json={"user": "alice", "password": PASSWORD}).status_code == 429


def test_regenerating_recovery_codes_needs_a_current_code(
    runtime: Runtime, clock: FrozenClock
) -> None:
    alice = enrol(runtime, clock)
    url = f"{TOTP}/recovery-codes"
    assert alice.client.post(url, json={"code": "000000"}).status_code == 403
    by_recovery = alice.client.post(url, json={"code": alice.recovery_codes[0]})
    assert by_recovery.status_code == 403  # a current code, not a recovery code
    fresh = alice.client.post(url, json={"code": alice.code(clock)})
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(alice.recovery_codes)
    _, rows = stored(runtime)
    assert {r.digest for r in rows} == {totp.recovery_digest(code) for code in new}
    clock.advance(timedelta(seconds=STEP))
    old = TestClient(alice.client.app).post(
        SIGN_IN, json={"user": "alice", "password": PASSWORD, "code": alice.recovery_codes[1]}
    )
    assert old.status_code == 401 and old.json()["error"]["code"] == "totp_invalid"


def test_codes_match_within_one_step_either_side(clock: FrozenClock) -> None:
    secret = totp.new_secret()
    now = clock.now()
    current = totp.matching_step(secret, code_at(secret, now), now=now)
    assert current is not None
    for offset, expected in ((-STEP, current - 1), (STEP, current + 1)):
        code = code_at(secret, now + timedelta(seconds=offset))
        assert totp.matching_step(secret, code, now=now) == expected
    for offset in (-2 * STEP, 2 * STEP):
        code = code_at(secret, now + timedelta(seconds=offset))
        if code != code_at(secret, now):  # a coincidence of 6 digits is possible
            assert totp.matching_step(secret, code, now=now) is None
    spaced = code_at(secret, now)[:3] + " " + code_at(secret, now)[3:]
    assert totp.matching_step(secret, f" {spaced}\n", now=now) == current  # as apps show it
    assert totp.matching_step(secret, "12345", now=now) is None
    assert totp.matching_step(secret, "١٢٣٤٥٦", now=now) is None  # digits, but not ASCII
    assert totp.matching_step(secret, "abcdef", now=now) is None


def test_recovery_codes_are_random_and_read_leniently() -> None:
    first, second = totp.new_recovery_codes(), totp.new_recovery_codes()
    assert not set(first) & set(second)
    code = first[0]
    assert totp.recovery_digest(f"  {code.upper().replace('-', ' ')} ") == totp.recovery_digest(
        code
    )
    assert totp.is_totp_code("123456") and not totp.is_totp_code(code)
