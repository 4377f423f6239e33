"""PagerDuty as an on-call source, over a real socket to a loopback fake of `GET /oncalls`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import free_port
from tests.oncall.pagerduty_fake import ACCEPT, FakePagerDuty, FakeUser
from warroom.oncall.pagerduty import PagerDutyError, PagerDutyOnCall
from warroom.oncall.pagerduty_config import PagerDutyOnCallConfig

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
WEEK_START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
PRIMARY = ("PPRIMA1", "Payments primary")
SECONDARY = ("PSECON2", "Payments secondary")
OTHER = ("POTHER3", "Search")
ALICE = FakeUser("PALICE1", "Alice Ng", "Alice@Example.com")
BOB = FakeUser("PBOB002", "Bob Ruiz", "bob@example.com")
CAROL = FakeUser("PCAROL3", "Carol Lee", "carol@example.com")
LAYERS = {"primary": [PRIMARY[0]], "secondary": [SECONDARY[0]]}


@pytest.fixture
def fake() -> Iterator[FakePagerDuty]:
    server = FakePagerDuty().start()
    try:
        yield server
    finally:
        server.stop()


def make_config(fake: FakePagerDuty, **overrides: Any) -> PagerDutyOnCallConfig:
    data: dict[str, Any] = {
        "api_key": fake.api_key,
        "base_url": fake.url,
        "schedules": {"payments": {"pagerduty_schedule_ids": LAYERS}},
        "people": {"alice@example.com": "alice", BOB.id: "bob"},
    }
    return PagerDutyOnCallConfig.model_validate({**data, **overrides})


@pytest.fixture
def client(fake: FakePagerDuty) -> Iterator[PagerDutyOnCall]:
    with PagerDutyOnCall(make_config(fake)) as pd:
        yield pd


def test_two_layers_in_one_request(fake: FakePagerDuty, client: PagerDutyOnCall) -> None:
    week = timedelta(days=7)
    fake.add(BOB, PRIMARY, WEEK_START - week, WEEK_START)  # last week's shift, over
    fake.add(ALICE, PRIMARY, WEEK_START, WEEK_START + week)
    fake.add(BOB, SECONDARY, WEEK_START, WEEK_START + week)
    fake.add(CAROL, OTHER, WEEK_START, WEEK_START + week)  # another team's schedule
    fake.add(ALICE, PRIMARY, WEEK_START + week, WEEK_START + 2 * week)  # next week

    assert client.on_call(AT, LAYERS) == {"primary": ["alice"], "secondary": ["bob"]}

    (request,) = fake.oncalls_requests()
    assert request.method == "GET"
    assert request.headers["authorization"] == f"Token token={fake.api_key}"
    assert request.headers["accept"] == ACCEPT
    assert sorted(request.query["schedule_ids[]"]) == [PRIMARY[0], SECONDARY[0]]
    assert request.query["since"] == ["2026-03-02T09:30:00Z"]
    assert request.query["until"] == ["2026-03-02T09:30:01Z"]
    assert request.query["include[]"] == ["users"]
    assert request.query["time_zone"] == ["UTC"]
    assert request.query["offset"] == ["0"]
    assert "escalation_policy_ids[]" not in request.query


def test_handoff_instant_belongs_to_the_new_shift(
    fake: FakePagerDuty, client: PagerDutyOnCall
) -> None:
    fake.add(BOB, PRIMARY, WEEK_START - timedelta(days=7), WEEK_START)
    fake.add(ALICE, PRIMARY, WEEK_START, WEEK_START + timedelta(days=7))
    assert client.on_call(WEEK_START, {"primary": [PRIMARY[0]]}) == {"primary": ["alice"]}
    before = WEEK_START - timedelta(seconds=1)
    assert client.on_call(before, {"primary": [PRIMARY[0]]}) == {"primary": ["bob"]}


def test_pagination_across_three_pages(fake: FakePagerDuty, client: PagerDutyOnCall) -> None:
    fake.page_size = 2  # PagerDuty caps `limit`; the client must follow `more`, not assume
    for index in range(5):
        user = FakeUser(f"PUSER{index:02d}", f"Responder {index}", f"r{index}@example.com")
        fake.add(user, PRIMARY, WEEK_START, None, level=index + 1)

    found = client.on_call(AT, {"primary": [PRIMARY[0]]})

    assert found == {"primary": [f"Responder {index}" for index in range(5)]}
    offsets = [r.query["offset"] for r in fake.oncalls_requests()]
    assert offsets == [["0"], ["2"], ["4"]]


def test_people_by_email_or_id_and_unmapped_by_name(
    fake: FakePagerDuty, client: PagerDutyOnCall
) -> None:
    for user in (ALICE, BOB, CAROL):
        fake.add(user, PRIMARY, WEEK_START, WEEK_START + timedelta(days=7))
    # The same person through a second escalation policy is listed once.
    fake.add(ALICE, PRIMARY, WEEK_START, None, policy=("PEP0002", "Checkout"), level=2)
    # A user named directly in a policy (schedule null) belongs to no layer.
    fake.add(BOB, None, None, None)

    # alice by e-mail (any case), bob by PagerDuty id, carol unmapped: PagerDuty's name.
    assert client.on_call(AT, {"primary": [PRIMARY[0]]}) == {
        "primary": ["alice", "bob", "Carol Lee"]
    }


def test_every_configured_schedule_in_one_query(fake: FakePagerDuty) -> None:
    fake.add(ALICE, PRIMARY, WEEK_START, None)
    fake.add(BOB, SECONDARY, WEEK_START, None)
    fake.add(CAROL, OTHER, WEEK_START, None)
    schedules = {
        "payments": {"pagerduty_schedule_ids": LAYERS},
        "search": {"pagerduty_schedule_ids": {"primary": [OTHER[0]]}},
    }
    with PagerDutyOnCall(make_config(fake, schedules=schedules)) as pd:
        assert pd.schedules_on_call(AT) == {
            "payments": {"primary": ["alice"], "secondary": ["bob"]},
            "search": {"primary": ["Carol Lee"]},
        }
        assert pd.schedules_on_call(AT, ["search"]) == {"search": {"primary": ["Carol Lee"]}}
        assert pd.on_call(AT, {}) == {}  # nothing asked, nothing sent (no filter = everything)
    assert len(fake.oncalls_requests()) == 2


def test_wrong_key_is_a_401(fake: FakePagerDuty) -> None:
    pd = PagerDutyOnCall(make_config(fake, api_key="not-the-key"))
    with pd, pytest.raises(PagerDutyError) as caught:
        pd.on_call(AT, LAYERS)
    assert "HTTP 401" in caught.value.message
    assert "Authentication failed" in caught.value.message
    assert "not-the-key" not in caught.value.message
    assert caught.value.status == 502
    assert len(fake.oncalls_requests()) == 1


def test_server_error_names_status_and_message(
    fake: FakePagerDuty, client: PagerDutyOnCall
) -> None:
    fake.answer = (500, {"error": {"message": "Internal error", "code": 2000}})
    with pytest.raises(PagerDutyError, match=r"HTTP 500: Internal error"):
        client.on_call(AT, LAYERS)
    fake.answer = (429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}})
    with pytest.raises(PagerDutyError, match=r"HTTP 429: Rate Limit Exceeded"):
        client.on_call(AT, LAYERS)
    fake.answer = (400, {"error": {"message": "Invalid Input Provided", "errors": ["bad id"]}})
    with pytest.raises(PagerDutyError, match=r"HTTP 400: Invalid Input Provided \(bad id\)"):
        client.on_call(AT, LAYERS)


def test_answer_that_is_not_an_oncall_list(fake: FakePagerDuty, client: PagerDutyOnCall) -> None:
    fake.answer = (200, b"<html>maintenance</html>")
    with pytest.raises(PagerDutyError, match="not an on-call list"):
        client.on_call(AT, LAYERS)
    fake.answer = (200, {"oncalls": [{"schedule": None}], "more": False})
    with pytest.raises(PagerDutyError, match=r"oncalls\.0\.user"):
        client.on_call(AT, LAYERS)
    fake.answer = (200, {"oncalls": [], "more": True})
    with pytest.raises(PagerDutyError, match="kept saying `more`"):
        client.on_call(AT, LAYERS)


def test_timeout(fake: FakePagerDuty) -> None:
    fake.delay = 5.0
    pd = PagerDutyOnCall(make_config(fake, timeout_seconds=0.2))
    with pd, pytest.raises(PagerDutyError, match=r"did not answer within 0\.2s"):
        pd.on_call(AT, LAYERS)
    assert len(fake.oncalls_requests()) == 1


def test_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = PagerDutyOnCallConfig.model_validate({"api_key": "k", "base_url": url})
    with PagerDutyOnCall(config) as pd, pytest.raises(PagerDutyError, match="cannot reach"):
        pd.on_call(AT, LAYERS)


def test_only_loopback_traffic(fake: FakePagerDuty, client: PagerDutyOnCall) -> None:
    fake.add(ALICE, PRIMARY, WEEK_START, None)
    assert client.config.base_url.startswith("http://127.0.0.1:")
    assert client.on_call(AT, LAYERS)["primary"] == ["alice"]
    assert [r.path for r in fake.requests] == ["/oncalls"]  # the fake saw the only request


def test_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_KEY", "from-env")
    config = PagerDutyOnCallConfig.model_validate({"api_key": "env:PD_KEY"})
    assert config.api_key.get_secret_value() == "from-env"
    assert config.base_url == "https://api.pagerduty.com"
    assert config.timeout_seconds == 10
    assert "from-env" not in repr(config)
    bad: list[dict[str, Any]] = [
        {"base_url": "http://api.pagerduty.com"},  # plain HTTP leaves the machine
        {"base_url": "ftp://127.0.0.1"},
        {"schedules": {"payments": {"pagerduty_schedule_ids": {}}}},
        {"schedules": {"payments": {"pagerduty_schedule_ids": {"primary": []}}}},
        {"schedules": {"payments": {"pagerduty_schedule_ids": {"Primary": ["P1"]}}}},
        {"schedules": {"payments": {"pagerduty_schedule_ids": {"primary": ["P 1; x"]}}}},
        {"schedules": {"Payments": {"pagerduty_schedule_ids": {"primary": ["P1"]}}}},
        {"people": {"alice@example.com": "Alice Ng"}},
        {"timeout_seconds": 0},
        {"api_key": "env:PD_KEY_MISSING"},
        {"surprise": True},
    ]
    for overrides in bad:
        with pytest.raises(ValidationError):
            PagerDutyOnCallConfig.model_validate({"api_key": "k", **overrides})
