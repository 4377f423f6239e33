"""The board's action items, the checklist owner form and the action run log in Chromium:
without JavaScript, enhanced with it, on a laptop and a phone, with nothing wider than the
screen and no serious accessibility violations."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.helpers import PY_EXEC
from tests.web.test_pages import PASSWORD, add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir
from warroom.config import WarroomConfig
from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.mitigation import checklist
from warroom.mitigation.action_flows import run_action
from warroom.mitigation.checklist import ChecklistChange
from warroom.mitigation.checklist_flows import change_item
from warroom.runtime import Runtime

PY = sys.executable
ADA = Actor(name="ada", source="api", role="admin")
RITA = Actor(name="rita", source="api", role="responder")
SKIP = "not what this test is about"
LONG_LINE = "deploy/checkout-" + "x" * 300  # one word wider than a phone


@pytest.fixture
def config() -> WarroomConfig:
    """Three people; an action that fails with long output, one that succeeds."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": n, "name": n.capitalize()} for n in ("rita", "sam", "ada")],
            "actions": [
                {
                    "name": "purge-cache",
                    "description": "Purge the CDN cache of the service",
                    "command": [
                        *PY_EXEC,
                        "import sys; print('purging', sys.argv[1]); "
                        "print('error: <origin> refused', file=sys.stderr); sys.exit(2)",
                        LONG_LINE,
                    ],
                },
                {"name": "status", "command": [*PY_EXEC, "print('all pods ready: 12/12')"]},
            ],
        }
    )


@pytest.fixture
def site(live_server: str, runtime: Runtime) -> str:
    """rita (responder); INC-1 open with two runs; INC-2 resolved with rita's action items."""
    add_user(runtime, "rita", "responder")
    room = runtime.flows.declare(
        actor=RITA, title="Checkout p99 latency above 4 s", severity="SEV-2", service="checkout"
    )
    for name in ("status", "purge-cache"):
        run_action(
            db=runtime.db,
            actions=runtime.config().actions,
            now=runtime.clock.now,
            ref=room.ref,
            name=name,
            params={},
            confirm=False,
            role="responder",
            actor=RITA,
        )
    with runtime.db.session() as session:
        steps = [s.id for s in checklist.items(session, incident=incidents.get(session, room.ref))]
    change_item(
        runtime.db,
        config=runtime.config(),
        now=runtime.clock.now(),
        ref=room.ref,
        item_id=steps[1],
        request=ChecklistChange(owner="rita"),
        actor=RITA,
        refresh=runtime.flows.refresh,
    )
    old = runtime.flows.declare(actor=ADA, title="Search was down", severity="SEV-2")
    runtime.flows.transition(old.ref, "resolve", actor=ADA, skip_verification=SKIP)
    today = runtime.clock.now().date()
    for title, due in (
        ("Add a canary stage to the checkout deploy", today - timedelta(days=3)),
        ("Alert on search index size", today + timedelta(days=10)),
        ("Write down the failover steps", None),
    ):
        runtime.postmortems.add_item(
            old.ref,
            actor=ADA,
            values={"kind": "short_term", "title": title, "owner": "rita", "due_date": due},
            create_jira=None,
        )
    return live_server


def signed_in(browser: Browser, site: str, viewport: ViewportSize, js: bool = True) -> Page:
    """Sign rita in; return the war board."""
    context = browser.new_context(viewport=viewport, java_script_enabled=js)
    page = context.new_page()
    page.set_default_navigation_timeout(90_000)  # 30 s is short under the suite on 2 cores
    page.goto(f"{site}/sign-in")
    page.get_by_label("User name").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("War board")
    return page


def assign(page: Page, owner: str) -> None:
    """Open the first checklist item's owner form, choose `owner`, assign."""
    item = page.locator(".checklist li").first
    item.locator(".check-owner summary").click()
    item.get_by_label("Owner").select_option(owner)
    item.get_by_role("button", name="Assign").click()


def test_without_javascript_the_owner_form_posts_and_comes_back(
    browser: Browser, site: str, runtime: Runtime
) -> None:
    page = signed_in(browser, site, LAPTOP, js=False)
    try:
        page.goto(f"{site}/incidents/INC-1")
        assign(page, "sam")
        expect(page).to_have_url(re.compile(r"/incidents/INC-1#check-\d+$"))  # the item
        expect(page.locator(".checklist li").first).to_contain_text("owner sam")
        expect(page.locator(".timeline")).to_contain_text("assigned to sam")
    finally:
        page.context.close()


def test_with_javascript_the_owner_changes_in_place(browser: Browser, site: str) -> None:
    page = signed_in(browser, site, PHONE)
    try:
        page.goto(f"{site}/incidents/INC-1")
        page.evaluate("window.stayed = true")  # gone if the page reloads
        assign(page, "ada")
        first = page.locator(".checklist li").first
        expect(first).to_contain_text("owner ada")
        expect(first.locator(".check-owner summary")).to_be_focused()
        expect(first.locator(".check-owner summary")).to_contain_text("Change owner")
        assert page.evaluate("window.stayed") is True
        expect(page.locator(".timeline")).to_contain_text("assigned to ada", timeout=5000)
        # A refusal (someone not under people:) shows the room's reason, focused, in place.
        first.get_by_label("Owner").evaluate("e => e.add(new Option('Zed', 'zed'))")
        assign(page, "zed")
        expect(page.locator("#form-error")).to_contain_text("unknown person 'zed'")
        expect(page.locator("#form-error")).to_be_focused()
        expect(page.locator(".checklist li").first).to_contain_text("owner ada")
        assert page.evaluate("window.stayed") is True
    finally:
        page.context.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_board_and_room_fit_and_show_the_new_parts(
    browser: Browser, site: str, tmp_path: Path, viewport: ViewportSize
) -> None:
    page = signed_in(browser, site, viewport)
    folder = shots_dir(tmp_path)
    width = viewport["width"]
    try:
        mine = page.locator(".my-action-items li")
        expect(mine).to_have_count(3)
        expect(mine.first).to_contain_text("overdue")
        expect(mine.first.locator("time")).to_have_attribute("datetime", "2026-02-27")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        expect(page.locator("#main")).to_contain_text("INC-1 · Containment")  # my step
        page.screenshot(path=folder / f"my-work-board-{width}.png", full_page=True)
        page.goto(f"{site}/incidents/INC-1")
        runs = page.locator(".runs > li")
        expect(runs).to_have_count(2)
        expect(runs.first).to_contain_text("purge-cache")
        expect(runs.first).to_contain_text("failed")
        runs.first.locator(".run-output summary").click()
        log = runs.first.locator("pre.log").first
        expect(log).to_contain_text(LONG_LINE[:40])
        box = log.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        page.locator(".checklist .check-owner").first.evaluate("e => e.open = true")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=folder / f"my-work-room-{width}.png", full_page=True)
        for part in ("actions", "checklist"):
            page.locator(f"#{part}").screenshot(path=folder / f"my-work-{part}-{width}.png")
    finally:
        page.context.close()


def test_no_serious_accessibility_violations_in_the_new_parts(browser: Browser, site: str) -> None:
    context = browser.new_context(viewport=LAPTOP, bypass_csp=True)
    page = context.new_page()
    page.set_default_navigation_timeout(90_000)  # 30 s is short under the suite on 2 cores
    page.goto(f"{site}/sign-in")
    page.get_by_label("User name").fill("rita")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    axe = Axe()
    found: dict[str, list[str]] = {}
    try:
        for path in ("/", "/incidents/INC-1"):
            page.goto(f"{site}{path}", wait_until="load")
            for details in page.locator("details").all():
                details.evaluate("e => e.open = true")
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
    assert found == {}
