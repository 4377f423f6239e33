"""The related incidents panel in the browser, on a laptop and a phone, with a postmortem."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from tests.search.test_related import SECRET, config, history, who  # noqa: F401
from tests.web.test_pages import PASSWORD, add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir
from warroom.runtime import Runtime


@pytest.mark.parametrize(("size", "scheme"), [("laptop", "light"), ("phone", "dark")])
def test_the_related_panel_in_the_browser(
    browser: Browser,
    live_server: str,
    client: TestClient,
    runtime: Runtime,
    who: dict[str, dict[str, str]],  # noqa: F811
    history: dict[str, str],  # noqa: F811
    tmp_path: Path,
    size: str,
    scheme: str,
) -> None:
    ref = history["cpu2"]
    root_cause = {"root_cause": "A runaway cron job pinned every core"}
    put = client.put(f"/api/v1/incidents/{ref}/postmortem", json=root_cause, headers=who["ada"])
    assert put.status_code == 200, put.text
    item = {"kind": "long_term", "title": "Cap the cron job's CPU"}
    added = client.post(
        f"/api/v1/incidents/{ref}/postmortem/action-items", json=item, headers=who["ada"]
    )
    assert added.status_code == 201, added.text
    add_user(runtime, "rita", "responder")
    viewport = LAPTOP if size == "laptop" else PHONE
    context = browser.new_context(viewport=viewport, color_scheme=scheme)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(f"{live_server}/sign-in?next=/incidents/{history['now']}")
        page.get_by_label("User name").fill("rita")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        panel = page.locator("#related")
        expect(panel.get_by_role("heading", name="Related incidents")).to_be_visible()
        expect(panel.get_by_text("A runaway cron job pinned every core")).to_be_visible()
        expect(panel.get_by_text("Cap the cron job's CPU")).to_be_visible()
        assert SECRET not in page.content()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the room is {width} px wide at {viewport['width']}"
        panel.scroll_into_view_if_needed()
        folder = shots_dir(tmp_path)
        panel.screenshot(path=str(folder / f"related-{size}-{scheme}.png"))
        page.screenshot(path=str(folder / f"related-room-{size}-{scheme}.png"), full_page=True)
        mine = panel.locator("li", has_text=f"{ref} ").filter(has_text="CPU saturated again")
        mine.get_by_role("link", name="Postmortem").click()
        expect(page).to_have_url(f"{live_server}/incidents/{ref}/postmortem")
    finally:
        context.close()
