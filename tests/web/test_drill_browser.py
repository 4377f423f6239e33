"""The drill form in the browser: start the runbook's first example from the declare page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.drills.conftest import drill_settings
from tests.helpers import Fakes
from tests.web.test_pages import PASSWORD, add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """A service with a rotation; drills page it."""
    return WarroomConfig.model_validate(drill_settings())


@pytest.mark.parametrize(("size", "scheme"), [("laptop", "light"), ("phone", "dark")])
def test_a_drill_starts_from_the_declare_page(
    browser: Browser,
    live_server: str,
    runtime: Runtime,
    fakes: Fakes,
    tmp_path: Path,
    size: str,
    scheme: str,
) -> None:
    add_user(runtime, "rita", "responder")
    viewport = LAPTOP if size == "laptop" else PHONE
    context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(f"{live_server}/sign-in?next=/incidents/new")
        page.get_by_label("User name").fill("rita")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        section = page.locator("section#drill")
        expect(section.get_by_role("heading", name="Practise: start a drill")).to_be_visible()
        section.locator("select[name=scenario]").select_option("high-cpu")
        folder = shots_dir(tmp_path)
        section.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / f"drill-form-{size}-{scheme}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page is {width} px wide at {viewport['width']}"
        section.get_by_role("button", name="Start a drill").click()
        page.wait_for_url(f"{live_server}/incidents/INC-1")
        expect(
            page.get_by_role("heading", name="[DRILL] CPU usage above 90% for 5 minutes")
        ).to_be_visible()
        expect(page.locator("p.notice", has_text="DRILL: a practice incident")).to_be_visible()
        page.screenshot(path=str(folder / f"drill-room-{size}-{scheme}.png"), full_page=True)
        actor = Actor(name="rita", source="web")
        runtime.flows.transition("INC-1", "resolve", actor=actor, skip_verification="drill")
        page.goto(f"{live_server}/incidents/INC-1/postmortem")
        review = page.locator("section#drill-review")
        expect(review.get_by_role("heading", name="Drill review")).to_be_visible()
        expect(review.get_by_text("Skipped or late: acknowledged within 5m")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page is {width} px wide at {viewport['width']}"
        review.screenshot(path=str(folder / f"drill-review-{size}-{scheme}.png"))
    finally:
        context.close()
