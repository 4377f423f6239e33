"""The postmortem editor and the metrics page in real Chromium: the editor filled in by a
responder, a conflicting save from a second browser, both pages at laptop and phone width in
both themes, with no console errors, nothing wider than the screen, and screenshots."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.web.test_pages import PASSWORD, add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

SKIP = "not what this test is about"


@pytest.fixture
def config() -> WarroomConfig:
    """A rotation of rita and sam on checkout."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "rita", "name": "Rita"}, {"id": "sam", "name": "Sam"}],
            "services": [{"id": "checkout", "schedule": "primary"}, {"id": "search"}],
            "schedules": [
                {
                    "id": "primary",
                    "timezone": "Europe/Berlin",
                    "layers": [{"name": "primary", "rotation": {"participants": ["rita", "sam"]}}],
                }
            ],
        }
    )


@pytest.fixture
def site(live_server: str, runtime: Runtime, clock: FrozenClock) -> str:
    """rita and sam (responders); INC-1 resolved after a full walk, INC-2 resolved quickly."""
    add_user(runtime, "rita", "responder")
    add_user(runtime, "sam", "responder")
    rita = Actor(name="rita", source="api", role="responder")
    ref = runtime.flows.declare(
        actor=rita, title="Checkout p99 above 4 s after deploy 1.42", severity="SEV-2",
        service="checkout",
    ).ref  # fmt: skip
    clock.advance(timedelta(minutes=3))
    runtime.flows.acknowledge(ref, actor=rita)
    clock.advance(timedelta(minutes=9))
    runtime.flows.transition(
        ref, "triage", actor=rita,
        fields={"commander": "rita", "impact": "EU checkout slow", "scope": "checkout",
                "priority": "P1"},
    )  # fmt: skip
    clock.advance(timedelta(minutes=20))
    runtime.flows.transition(ref, "mitigate", actor=rita, note="Rolled back to 1.41")
    clock.advance(timedelta(minutes=30))
    runtime.flows.transition(ref, "resolve", actor=rita, skip_verification=SKIP)
    other = runtime.flows.declare(actor=rita, title="Search results empty", severity="SEV-3").ref
    clock.advance(timedelta(minutes=40))
    runtime.flows.acknowledge(other, actor=rita)
    runtime.flows.transition(other, "resolve", actor=rita, skip_verification=SKIP)
    return live_server


def signed_in(context: BrowserContext, site: str, user: str, path: str) -> Page:
    page = context.new_page()
    # Under the whole suite on 2 cores a page can take longer than Playwright's 30 s default.
    page.set_default_navigation_timeout(90_000)
    page.goto(f"{site}/sign-in?next={path.replace('/', '%2F')}")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{site}{path}")
    return page


def test_a_responder_writes_the_postmortem_from_the_room(
    browser: Browser, site: str, runtime: Runtime, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=LAPTOP)
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("response", lambda r: errors.append(r.url) if r.status == 404 else None)
    try:
        page = signed_in(context, site, "rita", "/incidents/INC-1")
        page.get_by_role("link", name="Postmortem: the editor").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Checkout p99 above 4 s after deploy 1.42"
        )
        errors.clear()  # the room's live stream (/events) is another branch's work
        page.get_by_role("textbox", name="Summary", exact=True).fill(
            "Deploy 1.42 slowed checkout for 62 minutes."
        )
        page.get_by_label("Root cause", exact=True).fill("An N+1 query in the basket service.")
        page.get_by_label("Why 1: question").fill("Why was checkout slow?")
        page.get_by_label("Answer 1").fill("The basket service ran 300 queries per request.")
        page.get_by_label("Why 2: question").fill("Why did it run so many?")
        page.get_by_label("Answer 2").fill("An ORM change loaded items one by one.")
        page.get_by_label("Process").fill("No canary stage\nNo load test")
        page.get_by_label("In review").check()
        page.get_by_role("button", name="Save the postmortem").click()
        expect(page.get_by_role("status").filter(has_text="Saved")).to_contain_text("version 1")
        # The diagram is redrawn from what was saved, with its causes as text too.
        diagram = page.get_by_role("img", name="Fishbone diagram of INC-1")
        expect(diagram).to_be_visible()
        # Loaded and drawn (a loaded machine may take a moment to fetch the SVG).
        page.wait_for_function("document.querySelector('.diagram img').naturalWidth > 100")
        expect(page.locator(".cause-list")).to_contain_text("No canary stage; No load test")
        expect(page.get_by_label("Why 3: question")).to_have_value("")
        # An action item with an owner, a due date and a Jira link.
        adder = page.locator("form[action$='/action-items']")
        adder.get_by_label("What").fill("Add a canary stage to the deploy")
        adder.get_by_label("Owner").select_option("sam")
        adder.get_by_label("Due").fill("2026-03-20")
        adder.get_by_label("Jira issue").fill("OPS-77")
        adder.get_by_role("button", name="Add").click()
        expect(page.locator("#action-items")).to_contain_text("Add a canary stage to the deploy")
        expect(page.locator("#action-items")).to_contain_text("owner sam, due 2026-03-20")
        page.screenshot(path=shots_dir(tmp_path) / "postmortem-written-1366.png", full_page=True)
    finally:
        context.close()
    pm = runtime.postmortems.get("INC-1")
    assert (pm.status, pm.version, len(pm.five_whys)) == ("in_review", 1, 2)
    assert pm.action_items[0].jira_key == "OPS-77"
    assert errors == []


def test_two_browsers_save_and_the_second_sees_the_first(
    browser: Browser, site: str, runtime: Runtime, tmp_path: Path
) -> None:
    first = browser.new_context(viewport=LAPTOP)
    second = browser.new_context(viewport=PHONE)
    try:
        rita = signed_in(first, site, "rita", "/incidents/INC-1/postmortem")
        sam = signed_in(second, site, "sam", "/incidents/INC-1/postmortem")
        rita.get_by_role("textbox", name="Summary", exact=True).fill(
            "Rita's summary of the slow checkout."
        )
        sam.get_by_role("textbox", name="Summary", exact=True).fill(
            "Sam's summary: orders failed for EU shoppers."
        )
        rita.get_by_role("button", name="Save the postmortem").click()
        expect(rita.get_by_role("status").filter(has_text="Saved")).to_be_visible()
        sam.get_by_role("button", name="Save the postmortem").click()
        expect(
            sam.get_by_role("heading", name="Someone saved while you were editing")
        ).to_be_visible()
        expect(sam.locator(".conflict .theirs").first).to_have_text(
            "Rita's summary of the slow checkout."
        )
        expect(sam.get_by_role("textbox", name="Summary", exact=True)).to_have_value(
            "Sam's summary: orders failed for EU shoppers."
        )
        assert sam.evaluate("document.documentElement.scrollWidth") <= 375
        sam.screenshot(path=shots_dir(tmp_path) / "postmortem-conflict-375.png", full_page=True)
        assert runtime.postmortems.get("INC-1").summary == "Rita's summary of the slow checkout."
        sam.get_by_role("textbox", name="Summary", exact=True).fill(
            "Rita's summary of the slow checkout. Orders failed in the EU."
        )
        sam.get_by_role("button", name="Save the postmortem").click()
        expect(sam.get_by_role("status").filter(has_text="Saved")).to_contain_text("version 2")
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(LAPTOP, "light"), (LAPTOP, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["laptop-light", "laptop-dark", "phone-light", "phone-dark"],
)
def test_postmortem_and_metrics_fit_and_have_no_console_errors(
    browser: Browser, site: str, tmp_path: Path, viewport: ViewportSize, scheme: str
) -> None:
    context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(str(e.error)))
    folder = shots_dir(tmp_path)
    try:
        page = signed_in(context, site, "rita", "/reports")
        for name, path in {
            "postmortem": "/incidents/INC-1/postmortem",
            "metrics": "/reports",
        }.items():
            page.goto(f"{site}{path}", wait_until="load")
            expect(page.locator("main h1")).to_be_visible()
            width = page.evaluate("window.innerWidth")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{name} scrolls sideways: {scroll}px at {width}px"
            page.screenshot(
                path=folder / f"{name}-{viewport['width']}-{scheme}.png", full_page=True
            )
        expect(
            page.get_by_role(
                "img", name="Mean time to detect, acknowledge, mitigate and resolve, by severity"
            )
        ).to_be_visible()
        expect(page.locator("table.data").first).to_contain_text("SEV-2")
    finally:
        context.close()
    assert errors == []
