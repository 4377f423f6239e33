"""The runbook's Example 1 (high CPU usage) in the browser, from a real Alertmanager's alert:
it appears on the war board without a reload, then acknowledge, triage, the rollback action
with its confirm step, the Verification steps, resolve; the close refused while the
postmortem is owed; the postmortem (5 Whys, fishbone, action items) written and taken
draft → review → done; close. The postmortem and the close work the same with JavaScript
off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.detection.test_real_alertmanager import alert, post_alerts
from tests.helpers import PY_EXEC
from tests.peers import Peers
from tests.web.test_pages import add_user
from tests.web.test_pages_browser import LAPTOP, shots_dir, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import SystemClock
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

AM_TOKEN = "am-token-for-example-1"
# The runbook's Example 1 postmortem: the root cause was a memory leak in a new feature.
WHYS = [
    ("Why was checkout's CPU at 95 %?", "Garbage collection ran almost all the time."),
    ("Why did garbage collection run so much?", "The heap was nearly full and kept growing."),
    ("Why did the heap keep growing?", "The new recommendations feature cached every basket."),
    ("Why was the cache never emptied?", "It had no size limit and no expiry."),
    ("Why did no test catch it?", "The load test runs 10 minutes; the leak needs hours."),
]
LEAK = "Recommendations cache had no size limit"
NEXT_LIST = "xpath=following-sibling::ul[1]"  # a heading's list of action items


@pytest.fixture
def clock() -> SystemClock:
    """Real time: Alertmanager stamps its alerts with the wall clock."""
    return SystemClock()


@pytest.fixture
def config() -> WarroomConfig:
    """rita on call for checkout; an Alertmanager integration; the rollback action."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "rita", "name": "Rita Responder"},
                {"id": "dana", "name": "Dana Developer"},
            ],
            "schedules": [
                {
                    "id": "platform",
                    "timezone": "Europe/Berlin",
                    "layers": [{"name": "primary", "rotation": {"participants": ["rita"]}}],
                }
            ],
            "services": [{"id": "checkout", "schedule": "platform"}],
            "routes": [{"match": ['service="checkout"'], "service": "checkout"}],
            "integrations": {"alertmanager": [{"name": "prod", "token": AM_TOKEN}]},
            "actions": [
                {
                    "name": "rollback",
                    "description": "Roll the service back to its previous version",
                    "dangerous": True,
                    "command": [
                        *PY_EXEC,
                        "import sys; print('rolled back', sys.argv[1])",
                        "{service}",
                    ],
                }
            ],
        }
    )


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[Peers]:
    """Alertmanager, stopped afterwards (its log shown if the test failed)."""
    group = Peers(tmp_path)
    yield group
    group.stop()


def test_an_alert_reaches_the_war_board_without_a_reload(
    browser: Browser, live_server: str, runtime: Runtime, peers: Peers
) -> None:
    add_user(runtime, "rita", "responder")
    am = peers.alertmanager(f"{live_server}/api/v1/intake/alertmanager", AM_TOKEN)
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = sign_in(context, live_server)
        expect(page.get_by_role("heading", level=1)).to_have_text("War board")
        page.evaluate("window.stayed = true")
        post_alerts(am, [alert("HighCPUUsage", "checkout", starts_at=None)])
        peers.wait_for(lambda: _open_incidents(runtime), "Alertmanager's alert to open INC-1")
        card = page.locator(".incident-cards a").filter(has_text="HighCPUUsage on checkout")
        expect(card).to_be_visible(timeout=15_000)
        assert page.evaluate("window.stayed") is True  # no reload: the stream brought it
    finally:
        context.close()


def test_example_1_from_alert_to_closed_in_the_browser(
    browser: Browser, live_server: str, runtime: Runtime, peers: Peers, tmp_path: Path
) -> None:
    add_user(runtime, "rita", "responder")
    am = peers.alertmanager(f"{live_server}/api/v1/intake/alertmanager", AM_TOKEN)
    context = browser.new_context(viewport=LAPTOP)
    errors: list[str] = []
    context.on("weberror", lambda e: errors.append(str(e.error)))
    folder = shots_dir(tmp_path)
    try:
        page = sign_in(context, live_server)
        expect(page.get_by_role("heading", level=1)).to_have_text("War board")
        page.evaluate("window.stayed = true")
        post_alerts(am, [alert("HighCPUUsage", "checkout", starts_at=None)])
        peers.wait_for(lambda: _open_incidents(runtime), "Alertmanager's alert to open INC-1")
        card = page.locator(".incident-cards a").filter(has_text="HighCPUUsage on checkout")
        expect(card).to_be_visible(timeout=15_000)
        assert page.evaluate("window.stayed") is True  # no reload: the stream brought it
        card.click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("HighCPUUsage on checkout")
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

        triage = page.locator("details:has(> summary:text-is('Triage: the initial assessment'))")
        triage.get_by_label("SEV-2").check()
        triage.get_by_label("Impact: who and what is affected").fill("Checkout slow for all")
        triage.get_by_label("Scope: how far it reaches").fill("checkout service, EU")
        triage.get_by_label("Priority").fill("P1")
        triage.get_by_role("button", name="Triage").click()
        expect(page.locator(".room-head .status")).to_have_text("Triaged")

        confirmations: list[str] = []

        def accept(dialog: Dialog) -> None:
            confirmations.append(dialog.message)
            dialog.accept()

        page.on("dialog", accept)
        action = page.locator("details:has(> summary:has-text('rollback'))")
        action.locator("summary").click()
        action.get_by_label("I have checked: run it").check()
        action.get_by_role("button", name="Run rollback").click()
        expect(page.locator("#action-run")).to_contain_text("rolled back checkout")
        assert confirmations and "changes production" in confirmations[0]

        verification = page.locator("#checklist ul").last
        done = verification.get_by_role("button", name="Done")
        for left in range(done.count(), 0, -1):
            done.first.click()
            expect(done).to_have_count(left - 1)  # the room is back with one less to do

        resolve = page.locator("details:has(> summary:text-is('Resolve'))")
        resolve.locator("summary").click()
        expect(resolve).not_to_contain_text("Verification still open")
        resolve.get_by_role("button", name="Resolve").click()
        expect(page.locator(".room-head .status")).to_have_text("Resolved")

        _close_is_refused_while_the_postmortem_is_owed(
            page, folder / "example-1-close-refused-1366.png"
        )
        page.get_by_role("link", name="Postmortem: the editor").click()
        _write_the_postmortem(page, live_server)
        page.screenshot(path=folder / "example-1-postmortem-done-1366.png", full_page=True)
        page.get_by_role("link", name="close INC-1 from its room").click()
        _close_from_the_room(page)
        page.screenshot(path=folder / "example-1-closed-1366.png", full_page=True)
    finally:
        context.close()
    assert errors == []
    incident = runtime.flows.get("INC-1")
    assert incident.status == "closed" and incident.severity == "SEV-2"
    kinds = [event.kind for event in incident.timeline]
    assert "action" in kinds and "acknowledged" in kinds and kinds[-1] == "closed"
    pm = runtime.postmortems.get("INC-1")
    assert pm.status == "done"
    assert pm.root_cause == "A memory leak in the new recommendations feature"
    assert [(w.question, w.answer) for w in pm.five_whys] == WHYS
    assert pm.fishbone["Technology"] == [LEAK, "Checkout containers had no memory limit"]
    assert pm.fishbone["Testing"] == ["Load test runs 10 minutes; the leak needs hours"]
    assert pm.went_well == ["The alert fired within two minutes", "The rollback was one click"]
    items = sorted((i.kind, i.owner, i.due_date, i.title) for i in pm.action_items)
    soon, later = date.today() + timedelta(3), date.today() + timedelta(30)
    assert items == [
        ("long_term", "dana", later, "Run a 4-hour soak test before each release"),
        ("short_term", "rita", soon, "Cap the recommendations cache at 10 000 baskets"),
    ]


def _close_is_refused_while_the_postmortem_is_owed(page: Page, shot: Path | None = None) -> None:
    """The Close form says the postmortem comes first; closing anyway says what to do."""
    close = page.locator("details:has(> summary:text-is('Close'))")
    close.locator("summary").click()
    expect(close).to_contain_text("Closing needs the postmortem done; it is draft, due")
    expect(close.get_by_label("No postmortem, because")).to_have_count(0)  # admins only
    if shot is not None:
        close.screenshot(path=shot.with_name(f"{shot.stem}-form.png"))
    close.get_by_role("button", name="Close").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("INC-1 needs its postmortem done before it closes")
    expect(refusal).to_contain_text("Open Postmortem: the editor")
    expect(refusal).not_to_contain_text("/api/v1")
    expect(page.locator(".room-head .status")).to_have_text("Resolved")
    if shot is not None:
        page.screenshot(path=shot)


def _write_the_postmortem(page: Page, site: str) -> None:
    """Fill the editor as Example 1's postmortem; add the action items; review; done."""
    expect(page.get_by_role("heading", level=1)).to_have_text("HighCPUUsage on checkout")
    expect(page.locator(".room-head .status")).to_have_text("Postmortem: Draft")
    page.get_by_role("textbox", name="Summary", exact=True).fill(
        "Checkout's CPU rose to 95 % after release 2.8; rolling back to 2.7 ended it."
    )
    page.get_by_role("textbox", name="Impact", exact=True).fill(
        "Checkout was slow for all EU shoppers for about 40 minutes."
    )
    page.get_by_role("textbox", name="Root cause", exact=True).fill(
        "A memory leak in the new recommendations feature"
    )
    for number, (question, answer) in enumerate(WHYS, start=1):
        page.get_by_label(f"Why {number}: question", exact=True).fill(question)
        page.get_by_label(f"Answer {number}", exact=True).fill(answer)
    page.get_by_role("textbox", name="Technology", exact=True).fill(
        f"{LEAK}\nCheckout containers had no memory limit"
    )
    page.get_by_role("textbox", name="Process", exact=True).fill(
        "Shipped to everyone at once, no canary"
    )
    page.get_by_label("New category", exact=True).fill("Testing")
    page.get_by_role("textbox", name="Its causes", exact=True).fill(
        "Load test runs 10 minutes; the leak needs hours"
    )
    page.get_by_role("textbox", name="What went well", exact=True).fill(
        "The alert fired within two minutes\nThe rollback was one click"
    )
    diagram = page.get_by_role("img", name=re.compile("^Fishbone diagram of INC-1"))
    expect(diagram).to_have_attribute("alt", re.compile("0 causes in 5 categories"))
    page.get_by_role("button", name="Save the postmortem").click()
    expect(page.get_by_role("status").filter(has_text="Saved")).to_contain_text("version 1")

    # The diagram is redrawn from what was saved: its picture names the new cause.
    expect(diagram).to_have_attribute("alt", re.compile("4 causes in 6 categories"))
    expect(diagram).to_have_attribute("src", re.compile(r"fishbone\.svg\?v=1$"))
    svg = page.request.get(f"{site}{diagram.get_attribute('src')}")
    assert svg.ok and LEAK in svg.text() and "Testing" in svg.text()
    expect(page.locator(".cause-list")).to_contain_text(f"Technology: {LEAK};")
    expect(page.get_by_role("textbox", name="Testing", exact=True)).to_have_value(
        "Load test runs 10 minutes; the leak needs hours"
    )

    items = page.locator("#action-items")
    adder = page.locator("form[action$='/action-items']")
    soon, later = date.today() + timedelta(3), date.today() + timedelta(30)
    adder.get_by_label("What").fill("Cap the recommendations cache at 10 000 baskets")
    adder.get_by_label("Kind").select_option(label="Short-term")
    adder.get_by_label("Owner").select_option("rita")
    adder.get_by_label("Due").fill(soon.isoformat())
    adder.get_by_role("button", name="Add").click()
    expect(items).to_contain_text(f"owner rita, due {soon.isoformat()}")
    items.locator("summary", has_text="Add an action item").click()
    adder.get_by_label("What").fill("Run a 4-hour soak test before each release")
    adder.get_by_label("Kind").select_option(label="Long-term")
    adder.get_by_label("Owner").select_option("dana")
    adder.get_by_label("Due").fill(later.isoformat())
    adder.get_by_role("button", name="Add").click()
    long_term = items.get_by_role("heading", name="Long-term").locator(NEXT_LIST)
    expect(long_term).to_contain_text(
        f"Run a 4-hour soak test before each release — open, owner dana, due {later.isoformat()}"
    )
    short_term = items.get_by_role("heading", name="Short-term").locator(NEXT_LIST)
    expect(short_term).to_contain_text("Cap the recommendations cache at 10 000 baskets")

    page.get_by_role("radio", name="In review").check()
    page.get_by_role("button", name="Save the postmortem").click()
    expect(page.locator(".room-head .status")).to_have_text("Postmortem: In review")
    page.get_by_role("radio", name=re.compile("^Done")).check()
    page.get_by_role("button", name="Save the postmortem").click()
    expect(page.locator(".room-head .status")).to_have_text("Postmortem: Done")
    expect(page.get_by_role("status").filter(has_text="Saved")).to_contain_text(
        "The postmortem is done"
    )


def _close_from_the_room(page: Page) -> None:
    """Close the incident from its room and see it closed: every phase done."""
    expect(page.locator(".room-head .status")).to_have_text("Resolved")
    close = page.locator("details:has(> summary:text-is('Close'))")
    close.locator("summary").click()
    expect(close).not_to_contain_text("Closing needs")
    close.get_by_role("button", name="Close").click()
    expect(page.locator(".room-head .status")).to_have_text("Closed")
    expect(page.get_by_role("heading", name="Next steps")).to_have_count(0)
    expect(page.locator(".stepper li.done")).to_have_count(5)
    expect(page.locator("#timeline")).to_contain_text("Closed (was resolved)")
    # Closed is final: no form is offered that would only be refused.
    expect(page.get_by_role("button", name="Done")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Add a note")).to_have_count(0)


def test_example_1_postmortem_and_close_without_javascript(
    browser: Browser, live_server: str, runtime: Runtime
) -> None:
    add_user(runtime, "rita", "responder")
    rita = Actor(name="rita", source="api", role="responder")
    ref = runtime.flows.declare(
        actor=rita, title="HighCPUUsage on checkout", severity="SEV-2", service="checkout"
    ).ref
    runtime.flows.acknowledge(ref, actor=rita)
    runtime.flows.transition(
        ref, "triage", actor=rita,
        fields={"commander": "rita", "impact": "Checkout slow", "scope": "checkout",
                "priority": "P1"},
    )  # fmt: skip
    runtime.flows.transition(ref, "resolve", actor=rita, skip_verification="not this test's")
    context = browser.new_context(java_script_enabled=False, viewport=LAPTOP)
    try:
        page = sign_in(context, live_server, f"/incidents/{ref}")
        _close_is_refused_while_the_postmortem_is_owed(page)
        close = page.locator("details:has(> summary:text-is('Close'))")
        close.locator("summary").click()
        close.get_by_role("link", name="Write the postmortem").click()
        expect(page.locator(".room-head .status")).to_have_text("Postmortem: Draft")
        page.get_by_role("textbox", name="Summary", exact=True).fill("Release 2.8 leaked memory.")
        page.get_by_role("textbox", name="Root cause", exact=True).fill("An unbounded cache")
        page.get_by_label("Why 1: question", exact=True).fill(WHYS[0][0])
        page.get_by_label("Answer 1", exact=True).fill(WHYS[0][1])
        page.get_by_role("textbox", name="Technology", exact=True).fill(LEAK)
        page.get_by_role("radio", name=re.compile("^Done")).check()
        page.get_by_role("button", name="Save the postmortem").click()
        expect(page.locator(".room-head .status")).to_have_text("Postmortem: Done")
        expect(page.locator(".cause-list")).to_contain_text(LEAK)
        adder = page.locator("form[action$='/action-items']")
        adder.get_by_label("What").fill("Cap the recommendations cache")
        adder.get_by_label("Owner").select_option("rita")
        adder.get_by_label("Due").fill((date.today() + timedelta(3)).isoformat())
        adder.get_by_role("button", name="Add").click()
        expect(page.locator("#action-items")).to_contain_text("Cap the recommendations cache")
        page.get_by_role("link", name=ref, exact=True).click()
        _close_from_the_room(page)
    finally:
        context.close()
    assert runtime.flows.get(ref).status == "closed"
    assert runtime.postmortems.get(ref).status == "done"


def _open_incidents(runtime: Runtime) -> list[str] | None:
    from warroom.incidents.actor import Access
    from warroom.incidents.queries import ListFilters

    admin = Access(user="test", role="admin", teams=frozenset())
    items, _ = runtime.flows.page(access=admin, filters=ListFilters(), limit=10, cursor=None)
    return [item.title for item in items] or None  # None: keep waiting
