"""Alerts, silences and runbooks in real Chromium: a silence previewed and created without
JavaScript, expired through its confirm step with it; every page on a laptop and a phone in
both themes, with no console errors and nothing wider than the screen."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ViewportSize, expect
from sqlalchemy import select

from tests.web.test_pages import add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir, sign_in
from warroom.config import WarroomConfig
from warroom.detection.models import Silence
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

TOKEN = "webhook-token"


@pytest.fixture
def config() -> WarroomConfig:
    """A generic webhook to deliver alerts through."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "rita", "name": "Rita"}],
            "services": [{"id": "checkout"}, {"id": "search"}],
            "integrations": {"webhook": [{"name": "hooks", "token": TOKEN}]},
        }
    )


@pytest.fixture
def site(live_server: str, runtime: Runtime) -> str:
    """rita (responder); three firing alerts delivered over HTTP; an open incident."""
    add_user(runtime, "rita", "responder")
    for key, title, labels in (
        ("co-1", "Checkout p99 latency above 4 s", {"service": "checkout", "env": "prod"}),
        ("co-2", "Checkout error rate 12 % on payments-gw", {"service": "checkout"}),
        ("se-1", "Search returns empty results", {"service": "search", "env": "prod"}),
    ):
        answer = httpx.post(
            f"{live_server}/api/v1/intake/webhook",
            json={"title": title, "dedup_key": key, "status": "firing", "labels": labels},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,  # a loaded CI machine: httpx's 5 s default timed out here once
        )
        assert answer.status_code == 200, answer.text
    runtime.flows.declare(
        actor=Actor(name="rita", source="api", role="responder"), title="Login fails"
    )
    return live_server


def test_without_javascript_preview_then_create_a_silence(
    browser: Browser, site: str, runtime: Runtime, tmp_path: Path
) -> None:
    context = browser.new_context(java_script_enabled=False, viewport=LAPTOP)
    try:
        page = sign_in(context, site, "/silences")
        expect(page.get_by_role("heading", level=1)).to_have_text("Silences")
        page.get_by_label("Label 1", exact=True).fill("service")
        page.get_by_label("Value 1", exact=True).fill("checkout")
        page.get_by_label("Label 2", exact=True).fill("env")
        page.get_by_label("Operator 2", exact=True).select_option("!~")
        page.get_by_label("Value 2", exact=True).fill("stag.*")
        page.get_by_label("Why (who is doing what)").fill("payments-gw upgrade, rita")
        page.get_by_role("button", name="Preview").click()
        preview = page.locator("#preview")
        expect(preview).to_contain_text("It would match 2 firing alerts")
        expect(preview).to_contain_text("Checkout p99 latency above 4 s")
        expect(preview).not_to_contain_text("Search")
        page.screenshot(path=shots_dir(tmp_path) / "silences-preview.png", full_page=True)
        # A bad regular expression: refused, with the reason, the rows kept.
        page.get_by_label("Value 2", exact=True).fill("stag(")
        page.get_by_role("button", name="Create silence").click()
        expect(page.get_by_role("alert")).to_contain_text("invalid regular expression")
        page.get_by_label("Value 2", exact=True).fill("stag.*")
        page.get_by_role("button", name="Create silence").click()
        expect(page).to_have_url(f"{site}/silences")
        expect(page.locator("table").first).to_contain_text('env!~"stag.*"')
        page.goto(f"{site}/alerts")
        expect(page.get_by_text("silenced by #1")).to_have_count(2)
    finally:
        context.close()
    with runtime.db.session() as session:
        silence = session.scalars(select(Silence)).one()
        assert silence.matchers == ['service="checkout"', 'env!~"stag.*"']


def test_expire_asks_first(browser: Browser, site: str, runtime: Runtime) -> None:
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = sign_in(context, site, "/silences")
        page.get_by_label("Label 1", exact=True).fill("service")
        page.get_by_label("Value 1", exact=True).fill("search")
        page.get_by_label("For").fill("30m")
        page.get_by_label("Why (who is doing what)").fill("reindex")
        page.get_by_role("button", name="Create silence").click()
        expire = page.get_by_role("button", name="Expire silence #1")
        messages: list[str] = []
        page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
        expire.click()
        expect(expire).to_be_visible()  # dismissed: nothing happened
        assert messages and "Expire silence #1" in messages[0]
        page.once("dialog", lambda dialog: dialog.accept())
        expire.click()
        expect(page.get_by_role("button", name="Expire silence #1")).to_have_count(0)
        expect(page.locator("#expired-title + .table-wrap")).to_contain_text("expired by rita")
    finally:
        context.close()


@pytest.mark.parametrize(
    ("viewport", "scheme"),
    [(LAPTOP, "light"), (LAPTOP, "dark"), (PHONE, "light"), (PHONE, "dark")],
    ids=["laptop-light", "laptop-dark", "phone-light", "phone-dark"],
)
def test_alert_and_runbook_pages_fit_and_have_no_console_errors(
    browser: Browser,
    site: str,
    runtime: Runtime,
    tmp_path: Path,
    viewport: ViewportSize,
    scheme: str,
) -> None:
    context = browser.new_context(
        viewport=viewport, color_scheme="dark" if scheme == "dark" else "light"
    )
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(str(e.error)))
    context.on("response", lambda r: errors.append(r.url) if r.status >= 400 else None)
    folder = shots_dir(tmp_path)
    active = sorted(path.name for path in runtime.runbooks.active.glob("INC-*.md"))
    assert active
    try:
        page = sign_in(context, site, "/alerts")
        expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Alerts")).to_have_attribute("aria-current", "page")
        pages = {
            "alerts": "/alerts",
            "silences": "/silences",
            "runbooks": "/runbooks",
            "runbook-template": "/runbooks/templates/generic",
            "runbook-active": f"/runbooks/active/{active[0]}",
        }
        for name, path in pages.items():
            page.goto(f"{site}{path}", wait_until="load")
            expect(page.locator("main h1")).to_be_visible()
            width = page.evaluate("window.innerWidth")
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{name} scrolls sideways: {scroll}px at {width}px"
            page.screenshot(
                path=folder / f"{name}-{viewport['width']}-{scheme}.png", full_page=True
            )
    finally:
        context.close()
    assert errors == []
