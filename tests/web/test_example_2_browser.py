"""The runbook's Example 2 (data breach) in the browser: a viewer reports that their account
was taken over; the report pages nobody until a responder triages it; the on-call responder
triages it as a SEV-1 security incident, which restricts it: another viewer now gets "Not
found", while the security team and the reporter still see it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.web.test_pages import add_user, sign_in
from tests.web.test_pages_browser import LAPTOP, shots_dir
from tests.web.test_postmortem_browser import signed_in
from warroom.config import WarroomConfig
from warroom.runtime import Runtime

TITLE = "My account e-mail was changed and I did not do it"


@pytest.fixture
def config() -> WarroomConfig:
    """rita on call for accounts; sara in the security team; two viewers."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "rita", "name": "Rita Responder"},
                {"id": "sara", "name": "Sara Security"},
                {"id": "vic", "name": "Vic Viewer"},
                {"id": "val", "name": "Val Viewer"},
            ],
            "teams": [{"id": "security", "members": ["sara"]}],
            "schedules": [
                {
                    "id": "platform",
                    "timezone": "Europe/Berlin",
                    "layers": [{"name": "primary", "rotation": {"participants": ["rita"]}}],
                }
            ],
            "services": [{"id": "accounts", "schedule": "platform"}],
            "routes": [{"match": ['service="accounts"'], "service": "accounts"}],
        }
    )


def _room(context: BrowserContext, site: str, user: str) -> Page:
    """Sign `user` in on INC-1's room."""
    return signed_in(context, site, user, "/incidents/INC-1")


def test_example_2_a_viewers_report_is_held_then_restricted_by_triage(
    browser: Browser, live_server: str, runtime: Runtime, tmp_path: Path
) -> None:
    for name, role in (("rita", "responder"), ("sara", "responder")):
        add_user(runtime, name, role)
    for name in ("vic", "val"):
        add_user(runtime, name, "viewer")
    users = ("vic", "val", "rita", "sara")
    contexts = {name: browser.new_context(viewport=LAPTOP) for name in users}
    folder = shots_dir(tmp_path)
    try:
        # Detection: the viewer reports what they see, from the menu.
        vic = signed_in(contexts["vic"], live_server, "vic", "/")
        vic.get_by_role("link", name="Report a problem").click()
        expect(vic.get_by_role("heading", level=1)).to_have_text("Report a problem")
        expect(vic.get_by_role("main")).to_contain_text("pages nobody until a responder")
        vic.get_by_label("What is wrong, in one line").fill(TITLE)
        vic.get_by_role("radio", name="SEV-1").check()
        vic.get_by_label("Service").select_option("accounts")
        vic.get_by_label("What you see, and since when").fill(
            "Since 09:12 someone changed my e-mail address, then my password."
        )
        vic.get_by_role("button", name="Report").click()
        expect(vic).to_have_url(f"{live_server}/incidents/INC-1")
        expect(vic.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(vic.locator(".room-head")).to_contain_text("nobody is paged until a responder")
        expect(vic.locator(".room-head")).to_contain_text("(Triage, under Next steps)")
        expect(vic.locator(".room-head")).not_to_contain_text("warroom incident triage")
        expect(vic.get_by_role("heading", name="Next steps")).to_have_count(0)  # a viewer
        held = runtime.flows.get("INC-1")
        assert held.paging_held and held.suggested_severity == "SEV-1"
        assert held.visibility == "public" and held.severity == "SEV-3"

        # Another viewer sees the public report, for now.
        val = _room(contexts["val"], live_server, "val")
        expect(val.get_by_role("heading", level=1)).to_have_text(TITLE)

        # Triage: the on-call engineer is the IC, SEV-1, and it is a data breach.
        rita = _room(contexts["rita"], live_server, "rita")
        triage = rita.locator("details:has(> summary:text-is('Triage: the initial assessment'))")
        # The type's default severity until triage; the viewer's SEV-1 is only a suggestion.
        expect(triage.get_by_label("SEV-3")).to_be_checked()
        triage.get_by_label("SEV-1").check()
        triage.get_by_label("Type").select_option(label="Security / data breach (restricted)")
        expect(triage.get_by_label("Incident Commander")).to_have_value("rita")
        triage.get_by_label("Impact: who and what is affected").fill("One account taken over")
        triage.get_by_label("Scope: how far it reaches").fill("accounts service")
        triage.get_by_label("Priority").fill("P1")
        triage.get_by_role("button", name="Triage").click()
        expect(rita.locator(".room-head .status")).to_have_text("Triaged")
        expect(rita.locator(".room-head .tag", has_text="restricted")).to_be_visible()
        expect(rita.locator(".room-head")).not_to_contain_text("nobody is paged")
        expect(rita.locator("#timeline")).to_contain_text("paging released at SEV-1")
        rita.screenshot(path=folder / "example-2-triaged-restricted-1366.png", full_page=True)

        # The viewer who takes no part no longer sees it: the room is "Not found".
        answer = val.reload()
        assert answer is not None and answer.status == 404
        expect(val.get_by_role("heading", level=1)).to_have_text("Not found")
        expect(val.get_by_role("main")).not_to_contain_text(TITLE)
        val.screenshot(path=folder / "example-2-outsider-404-1366.png", full_page=True)
        val.goto(f"{live_server}/incidents?status=any")
        expect(val.get_by_role("main")).to_contain_text("No incident matches these filters")

        # The reporter still follows it; the security team sees it without taking part.
        vic.reload()
        expect(vic.get_by_role("heading", level=1)).to_have_text(TITLE)
        sara = _room(contexts["sara"], live_server, "sara")
        expect(sara.get_by_role("heading", level=1)).to_have_text(TITLE)
        expect(sara.locator(".room-head .tag", has_text="restricted")).to_be_visible()
    finally:
        for context in contexts.values():
            context.close()
    incident = runtime.flows.get("INC-1")
    assert (incident.incident_type, incident.visibility) == ("security", "restricted")
    assert (incident.severity, incident.commander, incident.paging_held) == ("SEV-1", "rita", False)


def test_a_triage_naming_an_unknown_type_changes_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    add_user(runtime, "rita", "responder")
    add_user(runtime, "vic", "viewer")
    csrf = sign_in(client, "vic")
    client.post("/report", data={"csrf_token": csrf, "title": TITLE, "service": "accounts"})
    before = runtime.flows.get("INC-1")
    csrf = sign_in(client, "rita")
    form = {"csrf_token": csrf, "action": "triage", "severity": "SEV-1", "commander": "rita"}
    form |= {"impact": "One account", "scope": "accounts", "priority": "P1"}
    refused = client.post("/incidents/INC-1/lifecycle", data=form | {"incident_type": "nope"})
    assert refused.status_code == 422 and "nope" in refused.text
    after = runtime.flows.get("INC-1")
    assert (after.status, after.severity, after.incident_type) == ("detected", "SEV-3", "default")
    assert len(after.timeline) == len(before.timeline) and after.paging_held
    triaged = client.post("/incidents/INC-1/lifecycle", data=form | {"incident_type": "security"})
    assert triaged.status_code == 200  # the redirect followed to the room
    done = runtime.flows.get("INC-1")
    assert (done.status, done.incident_type, done.visibility) == (
        "triaged", "security", "restricted",
    )  # fmt: skip
