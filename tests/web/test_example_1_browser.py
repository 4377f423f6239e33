"""The runbook's Example 1 (high CPU usage) in the browser, from a real Alertmanager's alert:
it appears on the war board, then acknowledge, triage, the rollback action with its confirm
step, the Verification steps, resolve."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, expect

from tests.detection.test_real_alertmanager import alert, post_alerts
from tests.peers import Peers
from tests.web.test_pages import add_user
from tests.web.test_pages_browser import LAPTOP, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import SystemClock
from warroom.runtime import Runtime

AM_TOKEN = "am-token-for-example-1"


@pytest.fixture
def clock() -> SystemClock:
    """Real time: Alertmanager stamps its alerts with the wall clock."""
    return SystemClock()


@pytest.fixture
def config() -> WarroomConfig:
    """rita on call for checkout; an Alertmanager integration; the rollback action."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "rita", "name": "Rita Responder"}],
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
                        sys.executable,
                        "-c",
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


def test_example_1_from_alert_to_resolved_in_the_browser(
    browser: Browser, live_server: str, runtime: Runtime, peers: Peers
) -> None:
    add_user(runtime, "rita", "responder")
    am = peers.alertmanager(f"{live_server}/api/v1/intake/alertmanager", AM_TOKEN)
    context = browser.new_context(viewport=LAPTOP)
    try:
        page = sign_in(context, live_server)
        expect(page.get_by_role("heading", level=1)).to_have_text("War board")
        post_alerts(am, [alert("HighCPUUsage", "checkout", starts_at=None)])
        peers.wait_for(lambda: _open_incidents(runtime), "Alertmanager's alert to open INC-1")
        page.reload()  # the live arrival is the test above
        card = page.locator(".incident-cards a").filter(has_text="HighCPUUsage on checkout")
        expect(card).to_be_visible()
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
        for _ in range(verification.get_by_role("button", name="Done").count()):
            verification.get_by_role("button", name="Done").first.click()
            page.wait_for_load_state()
        expect(verification.get_by_role("button", name="Done")).to_have_count(0)

        resolve = page.locator("details:has(> summary:text-is('Resolve'))")
        resolve.locator("summary").click()
        expect(resolve).not_to_contain_text("Verification still open")
        resolve.get_by_role("button", name="Resolve").click()
        expect(page.locator(".room-head .status")).to_have_text("Resolved")
    finally:
        context.close()
    incident = runtime.flows.get("INC-1")
    assert incident.status == "resolved" and incident.severity == "SEV-2"
    kinds = [event.kind for event in incident.timeline]
    assert "action" in kinds and "acknowledged" in kinds


def _open_incidents(runtime: Runtime) -> list[str] | None:
    from warroom.incidents.actor import Access
    from warroom.incidents.queries import ListFilters

    admin = Access(user="test", role="admin", teams=frozenset())
    items, _ = runtime.flows.page(access=admin, filters=ListFilters(), limit=10, cursor=None)
    return [item.title for item in items] or None  # None: keep waiting
