"""Evidence in the room, in real Chromium: a responder adds a file by the form and sees it
listed with its hash; a screenshot at laptop and phone width."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.web.test_pages import add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir
from tests.web.test_postmortem_browser import signed_in
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime


@pytest.fixture
def site(live_server: str, runtime: Runtime) -> str:
    """rita (a responder) and INC-1."""
    add_user(runtime, "rita", "responder")
    rita = Actor(name="rita", source="api", role="responder")
    runtime.flows.declare(actor=rita, title="Suspicious logins on the VPN", severity="SEV-2")
    return live_server


@pytest.mark.parametrize(("viewport", "label"), [(LAPTOP, "1366"), (PHONE, "390")])
def test_a_responder_adds_evidence_in_the_room(
    browser: Browser, site: str, runtime: Runtime, tmp_path: Path, viewport: object, label: str
) -> None:
    capture = tmp_path / "vpn-auth.log"
    capture.write_text("Dec  5 02:14:07 vpn-1 auth: failed login for admin from 203.0.113.9\n")
    digest = hashlib.sha256(capture.read_bytes()).hexdigest()
    context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    try:
        page = signed_in(context, site, "rita", "/incidents/INC-1")
        section = page.locator("#evidence")
        expect(section).to_contain_text("No evidence collected.")
        section.locator("summary", has_text="Add evidence").click()
        section.get_by_label("File").set_input_files(str(capture))
        section.get_by_label("What it is, where it came from").fill("auth log of vpn-1")
        section.get_by_role("button", name="Add evidence").click()
        expect(page).to_have_url(f"{site}/incidents/INC-1#evidence")
        expect(section.get_by_role("link", name="vpn-auth.log")).to_be_visible()
        expect(section).to_contain_text(digest[:12])
        expect(section).to_contain_text("auth log of vpn-1")
        section.scroll_into_view_if_needed()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.evaluate("window.innerWidth"), "nothing wider than the screen"
        page.screenshot(path=shots_dir(tmp_path) / f"room-evidence-{label}.png", full_page=True)
        section.screenshot(path=shots_dir(tmp_path) / f"room-evidence-section-{label}.png")
    finally:
        context.close()
    [item] = runtime.evidence.items("INC-1")
    assert (item.sha256, item.collected_by) == (digest, "rita")
