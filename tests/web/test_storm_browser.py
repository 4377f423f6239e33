"""An alert storm in the browser: the parent, its members and a member, on a laptop and a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from tests.detection.test_storms import THRESHOLD, fire, settings
from tests.web.test_pages import PASSWORD, add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir
from warroom.config import WarroomConfig
from warroom.runtime import Runtime


@pytest.fixture
def config() -> WarroomConfig:
    """Storms after THRESHOLD new incidents a minute on one service."""
    return WarroomConfig.model_validate(settings())


@pytest.mark.parametrize(("size", "scheme"), [("laptop", "light"), ("phone", "dark")])
def test_a_storm_reads_from_both_ends(
    browser: Browser,
    live_server: str,
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    size: str,
    scheme: str,
) -> None:
    for n in range(THRESHOLD + 3):
        fire(client, f"DiskFull{n}")
    add_user(runtime, "rita", "responder")
    viewport = LAPTOP if size == "laptop" else PHONE
    context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(f"{live_server}/sign-in?next=/incidents/INC-6")
        page.get_by_label("User name").fill("rita")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("p.notice", has_text="Part of alert storm INC-5")).to_be_visible()
        folder = shots_dir(tmp_path)
        page.screenshot(path=str(folder / f"storm-member-{size}-{scheme}.png"), full_page=True)
        page.get_by_role("link", name="INC-5").first.click()
        expect(page.get_by_role("heading", name="Alert storm on checkout")).to_be_visible()
        page.get_by_role("link", name="6 incidents").click()
        expect(page.get_by_text("The members of alert storm")).to_be_visible()
        rows = page.locator("table.incidents tbody tr")
        expect(rows).to_have_count(THRESHOLD + 3)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the list is {width} px wide at {viewport['width']}"
        page.screenshot(path=str(folder / f"storm-members-{size}-{scheme}.png"), full_page=True)
        page.goto(f"{live_server}/incidents/INC-5")
        page.get_by_role("button", name="Acknowledge").first.click()
        page.goto(f"{live_server}/incidents/INC-6")
        expect(page.locator("p.notice", has_text="Part of alert storm INC-5")).to_be_visible()
        facts = page.locator("dl.facts").first.inner_text()
        assert "by rita" in facts  # acknowledged with the storm
    finally:
        context.close()
