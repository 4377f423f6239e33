"""The heartbeats page in real Chromium: on a laptop and a phone in both themes, reached from
the Alerts tabs, with no console errors and nothing wider than the screen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ViewportSize, expect

from tests.detection.test_heartbeats import NIGHTLY, TOKEN, settings
from tests.web.test_pages import add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

LONG_ID = "payments-settlement-daily-reconciliation-export"  # a long id must wrap on a phone


@pytest.fixture
def config() -> WarroomConfig:
    """The detection tests' heartbeats, and one with a long id that stays waiting; rita on the
    security team (nightly's restricted type), so she sees all four."""
    values = settings()
    values["heartbeats"].append({"id": LONG_ID, "service": "monitoring", "interval": "1d"})
    values["people"].append({"id": "rita", "name": "Rita"})
    values["teams"] = [{"id": "security", "name": "Security", "members": ["rita"]}]
    values["incident_types"][1]["access_teams"] = ["security"]
    return WarroomConfig.model_validate(values)


@pytest.fixture
def site(live_server: str, runtime: Runtime, clock: FrozenClock) -> str:
    """rita (viewer, security team); watchdog silent with its incident open, nightly
    healthy, two waiting."""
    add_user(runtime, "rita", "viewer")
    for heartbeat, token in (("watchdog", TOKEN), ("nightly", NIGHTLY)):
        answer = httpx.post(
            f"{live_server}/api/v1/intake/heartbeat/{heartbeat}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    clock.advance(timedelta(minutes=5))
    runtime.engine.run_once()
    return live_server


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(LAPTOP, "light"), (LAPTOP, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["laptop-light", "laptop-dark", "phone-light", "phone-dark"],
)
def test_the_heartbeats_page_fits_and_has_no_console_errors(
    browser: Browser, site: str, tmp_path: Path, viewport: ViewportSize, scheme: str
) -> None:
    context = browser.new_context(
        viewport=viewport, color_scheme="dark" if scheme == "dark" else "light"
    )
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(str(e.error)))
    context.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    try:
        page = sign_in(context, site, "/alerts")
        page.get_by_role("navigation", name="Alerts, silences and heartbeats").get_by_role(
            "link", name="Heartbeats"
        ).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Heartbeats")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Alerts")).to_have_attribute("aria-current", "page")
        table = page.get_by_role("table", name="Configured heartbeats")
        expect(table.get_by_role("row")).to_have_count(5)  # the header and four heartbeats
        watchdog = table.get_by_role("row").filter(has_text="watchdog")
        expect(watchdog).to_contain_text("Silent")
        expect(watchdog.get_by_role("link")).to_have_attribute("href", "/incidents/INC-1")
        expect(table.get_by_role("row").filter(has_text="nightly")).to_contain_text("Healthy")
        expect(table.get_by_role("row").filter(has_text=LONG_ID)).to_contain_text("Never pinged")
        width = page.evaluate("window.innerWidth")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the page scrolls sideways: {scroll}px at {width}px"
        inner = page.evaluate(
            "Math.max(...[...document.querySelectorAll('.table-wrap')]"
            ".map(e => e.scrollWidth - e.clientWidth))"
        )
        assert inner <= 0, f"the table scrolls sideways by {inner}px"
        page.screenshot(
            path=shots_dir(tmp_path) / f"heartbeats-{viewport['width']}-{scheme}.png",
            full_page=True,
        )
    finally:
        context.close()
    assert errors == []
