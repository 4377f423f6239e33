"""The on-call pages in real Chromium: a Berlin schedule seen from New York across the change to
summer time, overrides added and removed (with JavaScript's confirm, and without JavaScript),
`g o`, a phone's width, both themes, no console errors and no serious axe-core violations."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Dialog, Page, ViewportSize, expect

from tests.web.test_oncall_pages import FRIDAY, oncall_config
from tests.web.test_pages import add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

PAGES = {
    "oncall": "/oncall",
    "oncall-schedule": "/oncall/berlin?start=2026-03-23",
    "escalation": "/escalation",
}


@pytest.fixture
def clock() -> FrozenClock:
    """Friday 27 March 2026, two days before Berlin moves to summer time."""
    return FrozenClock(FRIDAY)


@pytest.fixture
def config() -> WarroomConfig:
    """The Berlin schedule, its team, service and policy (tests/web/test_oncall_pages.py)."""
    return oncall_config()


@pytest.fixture
def site(live_server: str, runtime: Runtime) -> str:
    """A server with rita, a responder on the Berlin rota."""
    add_user(runtime, "rita", "responder")
    return live_server


def section(page: Page, day: str):  # type: ignore[no-untyped-def]
    """Return the calendar row of a day such as 'Sunday 29 March 2026'."""
    return page.locator("li.day").filter(has=page.get_by_role("heading", name=day))


def test_a_berlin_schedule_seen_from_new_york_across_the_change(
    browser: Browser, site: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=LAPTOP, timezone_id="America/New_York")
    try:
        page = sign_in(context, site, "/oncall")
        expect(page.get_by_role("heading", level=1)).to_have_text("On call")
        expect(page.locator("main")).to_contain_text("(your time: Sat 28 Mar, 04:00 EDT)")
        page.get_by_role("link", name="Two-week calendar of berlin").click()
        expect(page.locator("main")).to_contain_text("Friday 27 March 2026")
        page.get_by_role("link", name="Previous two weeks").click()
        expect(page).to_have_url(f"{site}/oncall/berlin?start=2026-03-13")
        page.get_by_role("link", name="Next two weeks").click()
        expect(page).to_have_url(f"{site}/oncall/berlin?start=2026-03-27")
        page.goto(f"{site}/oncall/berlin?start=2026-03-23")
        thursday = section(page, "Thursday 26 March 2026")
        expect(thursday).to_contain_text("09:00 CET–24:00 CET (your time: 04:00 EDT–19:00 EDT)")
        sunday = section(page, "Sunday 29 March 2026")
        expect(sunday).to_contain_text("23-hour day: clocks go forward (CET → CEST)")
        # The marker is drawn (an emoji was a missing-glyph box here) and has a name.
        marker = sunday.get_by_role("img", name="Clock change")
        expect(marker).to_be_visible()
        box = marker.bounding_box()
        assert box is not None and box["width"] >= 10 and box["height"] >= 10, box
        assert "\u23f1" not in sunday.inner_text()
        tuesday = section(page, "Tuesday 31 March 2026")
        expect(tuesday).to_contain_text("09:00 CEST–24:00 CEST (your time: 03:00 EDT–18:00 EDT)")
        # UTC on hover.
        first = thursday.locator("time").first
        assert first.get_attribute("title") == "25 Mar 2026, 23:00 UTC"
        sunday.scroll_into_view_if_needed()
        page.evaluate("window.scrollBy(0, -400)")
        page.screenshot(path=shots_dir(tmp_path) / "oncall-dst-1366-light.png")
    finally:
        context.close()
    # The marker in the dark theme and on a phone too: drawn in the text's own colour.
    for name, viewport, scheme in (("1366-dark", LAPTOP, "dark"), ("375-light", PHONE, "light")):
        context = browser.new_context(
            viewport=viewport, timezone_id="America/New_York", color_scheme=scheme
        )
        try:
            page = sign_in(context, site, "/oncall/berlin")
            page.goto(f"{site}/oncall/berlin?start=2026-03-23")
            sunday = section(page, "Sunday 29 March 2026")
            expect(sunday.get_by_role("img", name="Clock change")).to_be_visible()
            sunday.scroll_into_view_if_needed()
            page.screenshot(path=shots_dir(tmp_path) / f"oncall-dst-{name}.png")
        finally:
            context.close()


def test_add_and_remove_an_override_with_a_confirm(browser: Browser, site: str) -> None:
    context = browser.new_context(viewport=PHONE, timezone_id="America/New_York")
    try:
        page = sign_in(context, site, "/oncall/berlin")
        page.goto(f"{site}/oncall/berlin?start=2026-03-23")
        page.get_by_label("Who").select_option("lena")
        page.get_by_label("From (Europe/Berlin)").fill("2026-03-28T21:00")
        page.get_by_label("Until (Europe/Berlin)").fill("2026-03-29T09:00")
        page.get_by_label("Why").fill("covering for rita, flight")
        page.get_by_role("button", name="Add override").click()
        expect(page).to_have_url(f"{site}/oncall/berlin?start=2026-03-23#overrides")
        saturday = section(page, "Saturday 28 March 2026")
        held = saturday.locator("li.override")
        expect(held).to_contain_text("Lena")
        expect(held).to_contain_text("override")  # a word and an icon, not only a colour
        expect(held).to_contain_text("21:00 CET–24:00 CET")
        expect(section(page, "Sunday 29 March 2026").locator("li.override")).to_contain_text(
            "00:00 CET–09:00 CEST"
        )
        remove = page.get_by_role("button", name="Remove the override of lena in primary")

        def dismiss(dialog: Dialog) -> None:
            assert "Remove the override of lena" in dialog.message
            dialog.dismiss()

        page.once("dialog", dismiss)
        remove.click()
        expect(page.locator("li.override")).to_have_count(2)
        page.once("dialog", lambda dialog: dialog.accept())
        remove.click()
        expect(page.locator("li.override")).to_have_count(0)
        expect(page.locator("#overrides")).to_contain_text("None.")
    finally:
        context.close()


def test_without_javascript_an_override_error_shows_on_the_page(
    browser: Browser, site: str
) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=LAPTOP)
    try:
        page = sign_in(context, site, "/oncall/berlin")
        page.get_by_label("Who").select_option("sam")
        page.get_by_label("From (Europe/Berlin)").fill("2026-03-28T21:00")
        page.get_by_label("Until (Europe/Berlin)").fill("2026-03-28T09:00")
        page.get_by_label("Why").fill("swap")
        page.get_by_role("button", name="Add override").click()
        expect(page.get_by_role("alert")).to_have_text("until must be after from")
        page.get_by_label("Until (Europe/Berlin)").fill("2026-03-29T09:00")
        page.get_by_role("button", name="Add override").click()
        expect(page.locator("li.override").first).to_contain_text("Sam")
        # Removing needs no script either (the confirm is JavaScript's extra).
        page.get_by_role("button", name="Remove the override of sam in primary").click()
        expect(page.locator("li.override")).to_have_count(0)
    finally:
        context.close()


def test_g_o_opens_the_on_call_page(browser: Browser, site: str) -> None:
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = sign_in(context, site)
        expect(page.get_by_role("heading", level=1)).to_have_text("War board")
        page.keyboard.press("?")
        expect(page.locator("#shortcuts")).to_contain_text("On-call")
        page.keyboard.press("Escape")
        page.keyboard.press("g")
        page.keyboard.press("o")
        expect(page).to_have_url(f"{site}/oncall")
    finally:
        context.close()


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(LAPTOP, "light"), (LAPTOP, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["laptop-light", "laptop-dark", "phone-light", "phone-dark"],
)
def test_the_pages_fit_have_no_console_errors_and_no_serious_axe_violations(
    browser: Browser, site: str, tmp_path: Path, viewport: ViewportSize, scheme: str
) -> None:
    context = browser.new_context(
        viewport=viewport,
        color_scheme="dark" if scheme == "dark" else "light",
        timezone_id="America/New_York",
        bypass_csp=True,  # axe-core is injected by the test, which the pages' policy refuses
    )
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(str(e.error)))
    context.on(
        "response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    folder = shots_dir(tmp_path)
    axe = Axe()
    found: dict[str, list[str]] = {}
    try:
        page = sign_in(context, site, "/oncall")  # not the board: its /events comes with wt-live
        for name, path in PAGES.items():
            page.goto(f"{site}{path}", wait_until="load")
            expect(page.locator("main h1")).to_be_visible()
            width = page.evaluate("window.innerWidth")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{name} scrolls sideways: {scroll}px at {width}px"
            page.screenshot(
                path=folder / f"{name}-{viewport['width']}-{scheme}.png", full_page=True
            )
            results = axe.run(page)
            serious = [
                f"{v['id']}: {v['help']} ({len(v['nodes'])}×)"
                for v in results.response["violations"]
                if v.get("impact") in ("serious", "critical")
            ]
            if serious:
                found[path] = serious
    finally:
        context.close()
    assert errors == []
    assert found == {}
