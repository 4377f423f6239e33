"""The signed-in pages in real Chromium: without JavaScript, on a laptop and a phone, in both
themes, with no console errors and nothing wider than the screen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.web.test_pages import PASSWORD, add_user
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 812}
# Where the screenshots go: the test's own folder, or WARROOM_SCREENSHOTS to keep them.
SHOTS_ENV = "WARROOM_SCREENSHOTS"


@pytest.fixture
def config() -> WarroomConfig:
    """A rotation, so the board has someone on call; services for the declare form."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "rita", "name": "Rita"}, {"id": "sam", "name": "Sam"}],
            "services": [{"id": "checkout"}, {"id": "search"}],
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
def site(live_server: str, runtime: Runtime) -> str:
    """A server with rita (responder) and two open incidents, one acknowledged and triaged."""
    add_user(runtime, "rita", "responder")
    rita = Actor(name="rita", source="api", role="responder")
    runtime.flows.declare(actor=rita, title="Search results are empty", severity="SEV-3")
    busy = runtime.flows.declare(
        actor=rita,
        title="Checkout p99 latency above 4 s after deploy 1.42",
        severity="SEV-2",
        service="checkout",
    )
    runtime.flows.acknowledge(busy.ref, actor=rita)
    runtime.flows.note(busy.ref, actor=rita, text="Error rate 12 % on payments-gw")
    runtime.flows.transition(
        busy.ref,
        "triage",
        actor=rita,
        fields={
            "commander": "rita",
            "impact": "EU checkout slow",
            "scope": "checkout only",
            "priority": "P1",
        },
    )
    return live_server


def sign_in(context: BrowserContext, site: str, path: str = "/") -> Page:
    """Open `path`, which redirects to sign-in, and sign in as rita."""
    page = context.new_page()
    # Under the whole suite on 2 cores a page can take longer than Playwright's 30 s default.
    page.set_default_navigation_timeout(90_000)
    page.goto(f"{site}{path}")
    expect(page).to_have_url(f"{site}/sign-in?next={path.replace('/', '%2F')}")
    page.get_by_label("User name").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def test_without_javascript_sign_in_declare_acknowledge_and_note(
    browser: Browser, site: str, runtime: Runtime
) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=LAPTOP)
    try:
        page = sign_in(context, site, "/incidents/new")
        expect(page.get_by_role("heading", level=1)).to_have_text("Declare an incident")
        page.get_by_label("What is wrong, in one line").fill("Login returns 500")
        page.get_by_label("SEV-2").check()
        page.get_by_role("button", name="Declare").click()
        expect(page).to_have_url(f"{site}/incidents/INC-3")
        expect(page.get_by_role("heading", level=1)).to_have_text("Login returns 500")
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
        page.get_by_label("Add a note").fill("Rolled back auth-svc to 2.3.1")
        page.get_by_role("button", name="Add note").click()
        expect(page.locator(".timeline")).to_contain_text("Rolled back auth-svc to 2.3.1")
    finally:
        context.close()
    incident = runtime.flows.get("INC-3")
    assert incident.acknowledged_by == "rita" and incident.severity == "SEV-2"


def shots_dir(tmp_path: Path) -> Path:
    """Return where screenshots are kept."""
    folder = Path(os.environ.get(SHOTS_ENV) or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_browsers_zone_reaches_the_server(browser: Browser, site: str) -> None:
    # Fit, console errors, axe-core and screenshots of every page: tests/web/test_site_sweep.py.
    context = browser.new_context(viewport=LAPTOP, timezone_id="America/New_York")
    try:
        page = sign_in(context, site, "/incidents/INC-2")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Checkout p99")
        page.reload()  # the script has set the zone's cookie on the first load
        expect(page.locator(".facts time").first).to_contain_text(" E")  # EST or EDT
        assert page.locator("time").first.get_attribute("datetime", timeout=1000)
    finally:
        context.close()


def test_severity_is_told_by_shape_and_word_not_colour_alone(browser: Browser, site: str) -> None:
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = sign_in(context, site, "/incidents")
        badge = page.locator("td .sev").first
        expect(badge).to_contain_text("SEV-")
        assert badge.locator('[aria-hidden="true"]').inner_text().strip() in "◆▲●■○"
    finally:
        context.close()


def test_a_note_reaches_the_other_browser_and_a_secret_never_does(
    browser: Browser, site: str, runtime: Runtime
) -> None:
    add_user(runtime, "sam", "responder")
    add_user(runtime, "vic", "viewer")
    rita = browser.new_context(viewport=LAPTOP)
    vic = browser.new_context(viewport=PHONE)
    try:
        writer = sign_in(rita, site, "/incidents/INC-2")
        reader = vic.new_page()
        reader.goto(f"{site}/sign-in?next=/incidents/INC-2")
        reader.get_by_label("User name").fill("vic")
        reader.get_by_label("Password").fill(PASSWORD)
        reader.get_by_role("button", name="Sign in").click()
        expect(reader.get_by_role("heading", level=1)).to_contain_text("Checkout p99")
        expect(reader.locator("#live-state")).to_be_hidden()
        reader.evaluate("window.stayed = true")  # gone if the page reloads
        writer.get_by_label("Add a note").fill("Rolled back payments-gw to 1.41")
        writer.get_by_role("button", name="Add note").click()
        # No reload on the reader's side: the stream brings the entry (announced politely).
        expect(reader.locator(".timeline")).to_contain_text(
            "Rolled back payments-gw to 1.41", timeout=5000
        )
        assert reader.locator(".timeline").get_attribute("aria-live") == "polite"
        assert reader.evaluate("window.stayed") is True

        board = vic.new_page()
        board.goto(f"{site}/")
        expect(board.get_by_role("heading", level=1)).to_have_text("War board")
        rita_actor = Actor(name="rita", source="api", role="responder")
        runtime.flows.declare(
            actor=rita_actor, title="Credentials leaked ZEBRA-1", incident_type="security"
        )
        runtime.flows.declare(actor=rita_actor, title="Queue backlog on orders", severity="SEV-2")
        expect(board.locator("main")).to_contain_text("Queue backlog on orders", timeout=5000)
        expect(board.locator("main")).not_to_contain_text("ZEBRA-1")
    finally:
        rita.close()
        vic.close()


def test_the_checklists_skip_is_on_screen_and_the_skip_link_only_when_focused(
    browser: Browser, site: str
) -> None:
    # The two once shared a class, and the skip link's off-screen rule hid every Skip fold.
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = sign_in(context, site, "/incidents/INC-2")
        skip = page.locator("details.skip > summary").first
        expect(skip).to_be_visible()
        box = skip.bounding_box()
        assert box is not None and box["x"] >= 0 and box["y"] >= 0, box
        link = page.get_by_role("link", name="Skip to content")
        link_box = link.bounding_box()
        assert link_box is not None and link_box["x"] < 0  # off screen until focused
        link.focus()
        focused_box = link.bounding_box()
        assert focused_box is not None and focused_box["x"] >= 0
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/", "/incidents?status=any", "/incidents/INC-2"])
def test_a_first_load_is_three_requests_besides_images(
    browser: Browser, site: str, path: str
) -> None:
    # Issue 14: the page, app.css and app.js; the live stream opens after the load.
    context = browser.new_context(viewport=LAPTOP)
    try:
        sign_in(context, site)  # a fresh context: nothing cached
        page = context.new_page()
        seen: list[str] = []
        page.on(
            "request",
            lambda r: (
                seen.append(r.url) if r.resource_type not in ("image", "eventsource") else None
            ),
        )
        page.goto(f"{site}{path}", wait_until="load")
        expect(page.locator("main h1")).to_be_visible()
        loaded = [url.removeprefix(site).split("?")[0] for url in seen]
        assert loaded == [path.split("?")[0], "/static/app.css", "/static/app.js"], seen
    finally:
        context.close()
