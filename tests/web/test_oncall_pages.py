"""The on-call and escalation pages over HTTP, as a browser without JavaScript uses them:
who is on call now, a schedule's two weeks across a daylight-saving change, overrides added
and removed with plain forms (errors shown, nothing written), and policies resolved now."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.oncall.models import OverrideRow
from warroom.runtime import Runtime

# A Friday in late March 2026: Berlin moves to summer time on Sunday 29 March at 02:00,
# New York already did on 8 March.
FRIDAY = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
NEW_YORK = "America%2FNew_York"


@pytest.fixture
def clock() -> FrozenClock:
    """The clock stands on the Friday before Berlin's change to summer time."""
    return FrozenClock(FRIDAY)


def oncall_config() -> WarroomConfig:
    """A Berlin schedule (daily primary, weekly secondary), a team, a service and a policy."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "rita", "name": "Rita", "email": "rita@example.com"},
                {"id": "sam", "name": "Sam"},
                {"id": "bob", "name": "Bob"},
                {"id": "lena", "name": "Lena"},
            ],
            "teams": [{"id": "ops", "members": ["sam", "rita"], "leads": ["lena"]}],
            "services": [
                {"id": "checkout", "schedule": "berlin", "team": "ops", "escalation": "paging"}
            ],
            "schedules": [
                {
                    "id": "berlin",
                    "timezone": "Europe/Berlin",
                    "layers": [
                        {
                            "name": "primary",
                            "rotation": {"participants": ["rita", "sam"], "every": "1d"},
                        },
                        {"name": "secondary", "rotation": {"participants": ["bob"]}},
                    ],
                }
            ],
            "escalation_policies": [
                {
                    "id": "paging",
                    "description": "primary, secondary, then the leads",
                    "repeat": 1,
                    "steps": [
                        {"after": "0m", "notify": ["schedule:@service/primary"]},
                        {"after": "5m", "notify": ["schedule:berlin/secondary"]},
                        {"after": "15m", "notify": ["team:@service/leads", "channel:#ops"]},
                    ],
                }
            ],
            "notifications": {"default_policy": "paging"},
        }
    )


@pytest.fixture
def config() -> WarroomConfig:
    """See `oncall_config`."""
    return oncall_config()


@pytest.fixture
def rita(client: TestClient, runtime: Runtime) -> str:
    """Rita (a responder, on the rota) signed in, her browser in New York; her CSRF token."""
    add_user(runtime, "rita", "responder")
    client.cookies.set("warroom_tz", NEW_YORK)
    return sign_in(client, "rita")


def overrides(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(OverrideRow)) or 0


def text(page: str) -> str:
    """Return the page's words, tags dropped and spaces squeezed."""
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    return re.sub(r"\s+\)", ")", re.sub(r"\s*–\s*", "–", words))


def test_who_is_on_call_now_the_next_handoff_and_my_shifts(client: TestClient, rita: str) -> None:
    page = client.get("/oncall")
    assert page.status_code == 200
    words = text(page.text)
    # Friday 27 March: the daily primary handed off at 09:00 CET (03:00 EDT in New York).
    assert "primary Sam until Sat 28 Mar, 09:00 CET (your time: Sat 28 Mar, 04:00 EDT)" in words
    assert "next handoff: Rita at Sat 28 Mar, 09:00 CET" in words
    # A rota of one hands off to nobody: no "until" cut at the end of the two weeks asked.
    assert "secondary Bob no handoff in the next 14 days" in words
    # Rita's own shifts: every other day, the first from Saturday.
    mine = words.split("My shifts")[1].split("In your calendar app")[0]
    assert "berlin · primary from Sat 28 Mar, 09:00 CET" in mine
    # The short night of the change: 23 hours.
    assert "to Sun 29 Mar, 09:00 CEST (your time: Sun 29 Mar, 03:00 EDT) (23h 0m)" in mine
    # The calendar addresses: a token from the profile page.
    assert 'href="/profile"' in page.text
    assert "/api/v1/people/rita/ical?token=YOUR_CALENDAR_TOKEN" in page.text
    assert "/api/v1/schedules/berlin/ical?token=YOUR_CALENDAR_TOKEN" in page.text


def test_someone_not_on_any_rota_is_told_so(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "vic", "viewer")
    sign_in(client, "vic")
    page = client.get("/oncall")
    assert page.status_code == 200
    assert "are not under" in page.text
    # A viewer sees the calendar but no override form.
    calendar = client.get("/oncall/berlin")
    assert calendar.status_code == 200
    assert "Add an override" not in calendar.text


def test_two_weeks_across_the_change_to_summer_time(client: TestClient, rita: str) -> None:
    page = client.get("/oncall/berlin?start=2026-03-23")
    assert page.status_code == 200
    words = text(page.text)
    assert words.count("Monday") == 2 and "Sunday 5 April 2026" in words
    assert "Monday 23 March 2026" in words and "Sunday 22 March" not in words
    # Both zones side by side: Berlin's wall clock and New York's.
    assert "Europe/Berlin" in words and "America/New_York" in words
    # Before Berlin's change: 09:00 CET is 04:00 in New York (EDT since 8 March) …
    thursday = words.split("Thursday 26 March 2026")[1].split("Friday 27 March")[0]
    assert "09:00 CET–24:00 CET (your time: 04:00 EDT–19:00 EDT)" in thursday
    # … Sunday 29 March has 23 hours and says so …
    sunday = words.split("Sunday 29 March 2026")[1].split("Monday 30 March")[0]
    assert "23-hour day: clocks go forward (CET → CEST)" in sunday
    # Marked by a drawn clock with a name (the stopwatch emoji has no glyph in Debian's fonts).
    assert '<svg class="mark" role="img" aria-label="Clock change"' in page.text
    assert "\u23f1" not in page.text
    assert "00:00 CET–09:00 CEST" in sunday
    # … and after it the handoff stays at 09:00 in Berlin, 03:00 in New York.
    tuesday = words.split("Tuesday 31 March 2026")[1].split("Wednesday 1 April")[0]
    assert "09:00 CEST–24:00 CEST (your time: 03:00 EDT–18:00 EDT)" in tuesday
    assert "Sunday 25 October" not in words
    # Two weeks back and forward.
    assert 'href="/oncall/berlin?start=2026-03-09"' in page.text
    assert 'href="/oncall/berlin?start=2026-04-06"' in page.text
    # The autumn change: a 25-hour day.
    autumn = text(client.get("/oncall/berlin?start=2026-10-19").text)
    assert "Sunday 25 October 2026 25-hour day: clocks go back (CEST → CET)" in autumn
    # Each time is a <time datetime> in UTC.
    assert '<time datetime="2026-03-26T08:00:00Z"' in page.text


def test_the_calendar_defaults_to_today_in_the_schedule_zone(client: TestClient, rita: str) -> None:
    words = text(client.get("/oncall/berlin").text)
    assert "Friday 27 March 2026 today" in words


def test_add_an_override_in_the_schedule_zone_and_remove_it(
    client: TestClient, runtime: Runtime, rita: str
) -> None:
    form = client.get("/oncall/berlin").text
    assert "times in the schedule's zone, Europe/Berlin" in text(form)
    assert 'type="datetime-local" name="starts"' in form
    added = client.post(
        "/oncall/berlin/overrides",
        data={
            "csrf_token": rita,
            "person": "lena",
            "layer": "primary",
            "mode": "replace",
            "starts": "2026-03-28T21:00",
            "ends": "2026-03-29T09:00",
            "reason": "covering for rita, flight",
            "start": "2026-03-23",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    assert added.headers["location"] == "/oncall/berlin?start=2026-03-23#overrides"
    with runtime.db.session() as session:
        row = session.scalars(select(OverrideRow)).one()
        # 21:00 CET on Saturday; 09:00 CEST on Sunday, after the change.
        assert row.starts_at == datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
        assert row.ends_at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
        assert row.created_by == "rita"
        override_id = row.id
    words = text(client.get("/oncall/berlin?start=2026-03-23").text)
    saturday = words.split("Saturday 28 March 2026")[1].split("Sunday 29 March")[0]
    assert "Rita 09:00 CET–21:00 CET" in saturday
    assert "Lena ⇄ override 21:00 CET–24:00 CET" in saturday
    sunday = words.split("Sunday 29 March 2026")[1].split("Monday 30 March")[0]
    assert "Lena ⇄ override 00:00 CET–09:00 CEST" in sunday
    assert "Lena covers primary" in words and "covering for rita, flight" in words
    # The override is in force for who is on call then.
    now = text(client.get("/oncall").text)
    assert "next handoff: Rita at Sat 28 Mar, 09:00 CET" in now

    removed = client.post(
        f"/oncall/berlin/overrides/{override_id}/delete",
        data={"csrf_token": rita, "start": "2026-03-23"},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert overrides(runtime) == 0
    again = client.post(f"/oncall/berlin/overrides/{override_id}/delete", data={"csrf_token": rita})
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"ends": "2026-03-28T08:00"}, 422, "until must be after from"),
        ({"person": "mallory"}, 422, "unknown person 'mallory'"),
        ({"layer": "tertiary"}, 422, "has no layer 'tertiary'"),
        ({"starts": "next tuesday"}, 422, "from: a date and time"),
        ({"reason": " "}, 422, "say why"),
        ({"starts": "2026-03-20T09:00", "ends": "2026-03-21T09:00"}, 422, "already be over"),
        ({"mode": "add", "person": "lena"}, 409, "overlaps the override of sam"),
    ],
    ids=[
        "end-before-start",
        "unknown-person",
        "unknown-layer",
        "not-a-time",
        "no-reason",
        "in-the-past",
        "overlap",
    ],
)
def test_a_wrong_override_is_shown_on_the_page_and_nothing_is_written(
    client: TestClient,
    runtime: Runtime,
    rita: str,
    change: dict[str, str],
    status: int,
    message: str,
) -> None:
    base = {
        "csrf_token": rita,
        "person": "sam",
        "layer": "primary",
        "mode": "replace",
        "starts": "2026-03-28T09:00",
        "ends": "2026-03-28T21:00",
        "reason": "swap",
    }
    first = client.post("/oncall/berlin/overrides", data=base, follow_redirects=False)
    assert first.status_code == 303
    answer = client.post("/oncall/berlin/overrides", data={**base, **change})
    assert answer.status_code == status, answer.text
    assert message in html.unescape(answer.text)
    assert 'role="alert"' in answer.text
    assert overrides(runtime) == 1
    # What was typed is kept in the form.
    for name, value in change.items():
        if name not in ("person", "layer", "mode") and value.strip():
            assert f'value="{value}"' in answer.text


def test_only_responders_change_overrides(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "vic", "viewer")
    csrf = sign_in(client, "vic")
    answer = client.post(
        "/oncall/berlin/overrides",
        data={
            "csrf_token": csrf,
            "person": "sam",
            "layer": "primary",
            "starts": "2026-03-28T09:00",
            "ends": "2026-03-28T21:00",
            "reason": "swap",
        },
    )
    assert answer.status_code == 403
    assert overrides(runtime) == 0


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, runtime: Runtime, rita: str
) -> None:
    answer = client.post(
        "/oncall/berlin/overrides",
        data={
            "person": "sam",
            "layer": "primary",
            "starts": "2026-03-28T09:00",
            "ends": "2026-03-28T21:00",
            "reason": "swap",
        },
        follow_redirects=False,
    )
    assert answer.status_code in (303, 401, 403)
    assert overrides(runtime) == 0


def test_unknown_schedules_and_bad_dates(client: TestClient, rita: str) -> None:
    assert client.get("/oncall/nowhere").status_code == 404
    assert "no schedule 'nowhere'" in text(client.get("/oncall/nowhere").text)
    wrong = client.get("/oncall/berlin?start=23.03.2026")
    assert wrong.status_code == 422
    assert "must be a date like" in wrong.text


def test_each_policy_step_resolved_to_the_people_it_would_page_now(
    client: TestClient, runtime: Runtime, rita: str
) -> None:
    page = client.get("/escalation")
    assert page.status_code == 200
    words = text(page.text)
    assert "paging default" in words and "Pages for checkout" in words
    assert "Repeats 1 more time without an acknowledgement" in words
    steps = words.split("Step ")
    assert steps[1].startswith("1 · at once") and "For checkout: Sam" in steps[1]
    assert steps[2].startswith("2 · after 5m") and "Bob" in steps[2]
    assert steps[3].startswith("3 · after 15m")
    assert "For checkout: Lena" in steps[3] and "Posts in #ops" in steps[3]
    # Nothing is configured to send pages: the page says who cannot be reached.
    assert "cannot be reached" in steps[1]
    # An override changes whom step 1 pages, at once.
    client.post(
        "/oncall/berlin/overrides",
        data={
            "csrf_token": rita,
            "person": "rita",
            "layer": "primary",
            "starts": "2026-03-27T12:00",
            "ends": "2026-03-27T18:00",
            "reason": "swap",
        },
    )
    later = text(client.get("/escalation").text).split("Step ")
    assert "For checkout: Rita" in later[1]


def test_the_built_in_policy_and_a_step_for_the_commander(
    client: TestClient, runtime: Runtime, rita: str
) -> None:
    config = oncall_config().model_dump()
    config["escalation_policies"] = [
        {"id": "unused", "steps": [{"notify": ["schedule:@service/primary", "commander"]}]}
    ]
    config["notifications"] = {}
    config["services"][0]["escalation"] = None
    runtime.config_value = WarroomConfig.model_validate(config)
    words = text(client.get("/escalation").text)
    assert "unused" in words and "Pages for no service yet" in words
    assert "No service uses this policy" in words
    builtin = words.split("builtin built in")[1]
    assert "For checkout: Sam" in builtin and "For checkout: Lena" in builtin
