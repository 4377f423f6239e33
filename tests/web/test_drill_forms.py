"""The drill form without a browser: it starts a drill, and a refused one keeps nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.drills.conftest import drill_settings
from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.drills.models import Drill
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    return WarroomConfig.model_validate(drill_settings())


def drills(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(Drill)) or 0


def test_the_form_starts_a_drill_and_opens_its_room(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "rita", "responder")
    csrf = sign_in(client, "rita")
    page = client.get("/incidents/new")
    assert 'action="/drills"' in page.text and "<option>data-breach</option>" in page.text
    answer = client.post(
        "/drills", data={"csrf_token": csrf, "scenario": "data-breach"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/incidents/INC-1"
    room = client.get("/incidents/INC-1").text
    assert "[DRILL] A customer reports their account data was compromised" in room
    assert "DRILL: a practice incident" in room


def test_a_refused_drill_says_why_and_keeps_nothing(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "rita", "responder")
    csrf = sign_in(client, "rita")
    unknown = client.post("/drills", data={"csrf_token": csrf, "service": "nowhere"})
    assert unknown.status_code == 422 and "unknown service &#39;nowhere&#39;" in unknown.text
    made_up = client.post("/drills", data={"csrf_token": csrf, "scenario": "name: x"})
    assert made_up.status_code == 422 and "choose one of the shipped scenarios" in made_up.text
    forged = client.post("/drills", data={"scenario": "high-cpu"})
    assert forged.status_code == 403  # no CSRF token: refused like every other form
    assert drills(runtime) == 0


def test_a_viewer_has_no_drill_button(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "vic", "viewer")
    csrf = sign_in(client, "vic")
    assert client.post("/drills", data={"csrf_token": csrf}).status_code == 403
    assert drills(runtime) == 0
