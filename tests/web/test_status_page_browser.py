"""The public status page in real Chromium (Debian's, via Playwright) on a laptop and a phone."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree as ET

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.status.conftest import COMPONENTS, declare
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}
# A long unbroken address is what people paste into titles; it must wrap, not widen the page.
LONG = "https://payments.example.com/v1/charges/eu-west-1/timeouts-after-deploy-2026-03-02"
LATEST = "A fix is deployed; we are watching error rates."


@pytest.fixture
def config() -> WarroomConfig:
    """Three services, each behind one public component."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "checkout"}, {"id": "search"}, {"id": "accounts"}],
            "status_page": {"title": "Acme status", "components": COMPONENTS},
        }
    )


@pytest.fixture
def site(live_server: str, runtime: Runtime, tokens: dict[str, str], clock: FrozenClock) -> str:
    """A served page with a public incident (two public updates) and a restricted one."""
    headers = {"Authorization": f"Bearer {tokens['responder']}"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=10) as http:

        def post(ref: str, **payload: object) -> None:
            response = http.post(f"/api/v1/incidents/{ref}/status-updates", json=payload)
            assert response.status_code == 201, response.text

        ref = declare(runtime, "HTTP 504 rate on payments-gw-3", service="checkout")
        post(
            ref,
            status="investigating",
            body=f"Payments time out at {LONG}",
            components={"api": "major_outage"},
            public_title=f"Checkout fails: {LONG}",  # the internal title never shows
        )
        clock.advance(timedelta(minutes=20))
        post(ref, status="monitoring", body=LATEST, components={"api": "degraded_performance"})
        secret = declare(
            runtime, "Credentials leaked", incident_type="security", service="accounts"
        )
        post(
            secret,
            status="investigating",
            body="attacker inside",
            public=False,
            components={"login": "major_outage"},
        )
    return live_server


def open_page(browser: Browser, url: str, viewport: ViewportSize) -> tuple[Page, list[str]]:
    """Load `url` in a fresh context at `viewport`; return the page and its console errors."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200
    assert response.headers["content-type"].startswith("text/html")
    return page, errors


def contrast(page: Page, selector: str) -> float:
    """Return the WCAG contrast ratio of an element's text colour on its background colour."""
    colours = page.locator(selector).evaluate(
        "e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]"
    )

    def luminance(css: str) -> float:
        channels = [int(v) / 255 for v in css[css.index("(") + 1 : -1].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(c) for c in colours), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_status_page_renders_and_fits(browser: Browser, site: str, viewport: ViewportSize) -> None:
    page, errors = open_page(browser, f"{site}/status", viewport)
    try:
        expect(page).to_have_title("Acme status")
        expect(page.get_by_role("heading", level=1)).to_have_text("Acme status")
        expect(page.get_by_role("status")).to_have_text("Minor Service Outage")
        components = page.locator(".components li")
        expect(components).to_have_count(3)
        for name, state in (
            ("Public API", "Degraded performance"),
            ("Sign-in", "Operational"),  # the restricted incident's private update moves nothing
            ("Website", "Operational"),
        ):
            row = components.filter(has_text=name)
            expect(row.locator(".name")).to_be_visible()
            expect(row.locator(".state")).to_have_text(state)
            expect(row.locator(".state")).to_be_visible()

        current = page.locator("article.incident").filter(has_text="Checkout fails")
        expect(current).to_be_visible()
        updates = current.locator(".updates li")
        expect(updates).to_have_count(2)
        # The newest update comes first, with its state and the components it moved.
        expect(updates.first).to_contain_text("Monitoring")
        expect(updates.first.get_by_text(LATEST)).to_be_visible()
        expect(updates.first.locator(".affected")).to_have_text("Public API: Degraded performance")
        body = page.locator("body")
        for hidden in ("Credentials", "attacker", "INC-2", "rita", "payments-gw-3"):
            expect(body).not_to_contain_text(hidden)

        feed = "/status/feed.atom"  # no base_url configured: relative, never from the Host header
        expect(page.locator('link[rel="alternate"]')).to_have_attribute("href", feed)
        link = page.get_by_role("link", name="Subscribe (Atom feed)")
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", feed)

        width = page.evaluate("window.innerWidth")
        assert width == viewport["width"]
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"page scrolls sideways: {scroll}px wide at {width}px"
        # No element may stick out of the viewport, even where overflow would clip it.
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                .map(e => e.tagName + '.' + e.className)"""
        )
        assert wide == []
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            ratio = contrast(page, ".banner")
            assert ratio >= 4.5, f"banner text contrast {ratio:.2f}:1 in the {scheme} scheme"
        assert errors == []
    finally:
        page.context.close()


def test_feed_link_serves_atom(browser: Browser, site: str) -> None:
    page, errors = open_page(browser, f"{site}/status", LAPTOP)
    try:
        href = page.get_by_role("link", name="Subscribe (Atom feed)").get_attribute("href")
        assert href == "/status/feed.atom"  # no base_url configured: relative
        # Fetched through the browser's own network stack, as a feed reader on it would.
        response = page.context.request.get(f"{site}{href}")
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        root = ET.fromstring(response.body())
        atom = "{http://www.w3.org/2005/Atom}"
        assert root.tag == f"{atom}feed"
        titles = [t.text or "" for t in root.iter(f"{atom}title")]
        assert any("Checkout fails" in t for t in titles)
        assert not any("Credentials" in t for t in titles)
        assert errors == []
    finally:
        page.context.close()
