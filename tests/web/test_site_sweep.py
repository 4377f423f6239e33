"""Every page warroom serves, in real Chromium, on a site with something on every page.

Four runs, one browser context each: a laptop in the light and the dark theme, and a phone
(375 px) in each theme, set there by the user's saved theme against the opposite system
setting. axe-core runs on every page on the laptop in both themes and on the phone in one
(all but its colour rule: what the narrow layout changes, such as target sizes and tables that
scroll): no serious or critical violation. On every page of every run: no console error, no
page error, no failed request, nothing wider than the screen (folded forms opened too), the
theme asked for, and a screenshot (WARROOM_SCREENSHOTS keeps them). The run without axe keeps
the pages' Content-Security-Policy, so a style or script it refuses is a console error there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.conftest import make_token
from tests.helpers import PY_EXEC, SKIP
from tests.status.conftest import COMPONENTS
from tests.web.test_page_access import PAGES, page_routes
from tests.web.test_pages import PASSWORD, add_user
from tests.web.test_pages_browser import LAPTOP, PHONE, shots_dir
from warroom.auth import profile
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

HOOK = "sweep-webhook-token"
# A long unbroken address in a note: it must wrap on a phone, not widen the page.
DASHBOARD = "https://grafana.example.com/d/payments-gw-eu-west-1/overview?from=now-1h&to=now"
# Page routes that are not a page for a person: the sweep leaves them out, with the reason.
NOT_PAGES = {
    "/incidents/{ref}/timeline": "an HTML fragment the room's script fetches",
    "/incidents/{ref}/postmortem/fishbone.svg": "an image, shown on the postmortem page",
    "/incidents/{ref}/postmortem/timeline.svg": "an image, shown on the postmortem page",
    "/reports/incidents.csv": "CSV",
    "/incidents/{ref}/evidence/{item_id}": "a file download (an attachment), linked from the room",
}


@dataclass(frozen=True)
class Visit:
    """A page the sweep opens: its name, the route it exercises and its address."""

    name: str
    route: str | None  # the page route's path; None: the status page or an error page
    url: str  # {open}, {resolved}, {active}, {archive}: filled in from the site
    signed_in: bool = True
    status: int = 200


# Signed out first (the sign-in page's form then signs in), then every signed-in page.
VISITS = (
    Visit("status", None, "/status", signed_in=False),
    Visit("sign-in", "/sign-in", "/sign-in", signed_in=False),
    Visit("board", "/", "/"),
    Visit("incidents", "/incidents", "/incidents?status=any"),
    Visit("declare", "/incidents/new", "/incidents/new"),
    Visit("room-open", "/incidents/{ref}", "/incidents/{open}"),
    Visit("room-resolved", "/incidents/{ref}", "/incidents/{resolved}"),
    Visit("postmortem", "/incidents/{ref}/postmortem", "/incidents/{resolved}/postmortem"),
    Visit("reports", "/reports", "/reports"),
    Visit("report", "/report", "/report"),
    Visit("profile", "/profile", "/profile"),
    Visit("alerts", "/alerts", "/alerts?status=all"),
    Visit("silences", "/silences", "/silences"),
    Visit("heartbeats", "/heartbeats", "/heartbeats"),
    Visit("runbooks", "/runbooks", "/runbooks"),
    Visit(
        "runbook-template",
        "/runbooks/templates/{name}",
        "/runbooks/templates/resource-saturation",
    ),
    Visit("runbook-active", "/runbooks/active/{name}", "/runbooks/active/{active}"),
    Visit("runbook-archive", "/runbooks/archive/{name}", "/runbooks/archive/{archive}"),
    Visit("oncall", "/oncall", "/oncall"),
    Visit("schedule", "/oncall/{schedule_id}", "/oncall/payments"),
    Visit("escalation", "/escalation", "/escalation"),
    Visit("audit", "/audit", "/audit"),
    Visit("search", "/search", "/search?q=payments"),
    Visit("not-found", None, "/incidents/INC-999", status=404),
)


@dataclass(frozen=True)
class Run:
    """One browser context: its screen, the theme expected, the system's and who signs in."""

    viewport: ViewportSize
    theme: str
    system: str  # the browser's prefers-color-scheme
    user: str  # rita follows the system; lee saved light, dee saved dark
    axe: bool


RUNS = {
    "laptop-light": Run(LAPTOP, "light", "light", "rita", axe=True),
    "laptop-dark": Run(LAPTOP, "dark", "dark", "rita", axe=True),
    "phone-light": Run(PHONE, "light", "dark", "lee", axe=True),
    "phone-dark": Run(PHONE, "dark", "light", "dee", axe=False),
}

# axe-core's rules as shipped, and WCAG 2.2's target size (24 px), which it ships turned off.
AXE_OPTIONS: dict[str, Any] = {
    "resultTypes": ["violations"],
    "rules": {"target-size": {"enabled": True}},
}
# On the phone the colours are the laptop's (checked there in both themes): skip axe's slowest
# rule and check what the narrow layout changes.
PHONE_AXE = {**AXE_OPTIONS, "rules": {**AXE_OPTIONS["rules"], "color-contrast": {"enabled": False}}}
# Whatever sticks out past the right edge outside a box that scrolls it: (what, how far).
WIDE = """() => {
  const limit = window.innerWidth + 0.5;
  const held = e => {
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  return [...document.querySelectorAll('body *')]
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > limit; })
    .filter(e => !held(e))
    .slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}.${[...e.classList].join('.')} ` +
              `${Math.round(e.getBoundingClientRect().right)}px`);
}"""


@pytest.fixture
def config() -> WarroomConfig:
    """A team with a rotation and an escalation policy, a status page, a webhook, an action."""
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "rita", "name": "Rita Responder", "timezone": "Europe/Berlin"},
                {"id": "sam", "name": "Sam Second", "email": "sam@example.com"},
                {"id": "dee", "name": "Dee Lead", "timezone": "America/New_York"},
                {"id": "lee", "name": "Lee Newcomer"},
            ],
            "teams": [{"id": "payments", "members": ["rita", "sam", "lee"], "leads": ["dee"]}],
            "services": [
                {
                    "id": "checkout",
                    "team": "payments",
                    "schedule": "payments",
                    "escalation": "payments-default",
                    "runbook": "resource-saturation",
                },
                {"id": "search", "team": "payments"},
                {"id": "accounts"},
            ],
            "schedules": [
                {
                    "id": "payments",
                    "timezone": "Europe/Berlin",
                    "layers": [
                        {"name": "primary", "rotation": {"participants": ["rita", "sam"]}},
                        {"name": "secondary", "rotation": {"participants": ["sam", "dee"]}},
                    ],
                }
            ],
            "escalation_policies": [
                {
                    "id": "payments-default",
                    "description": "Payments: primary, then secondary, then the leads",
                    "repeat": 1,
                    "steps": [
                        {"after": "0m", "notify": ["schedule:payments/primary"]},
                        {"after": "10m", "notify": ["schedule:payments/secondary"]},
                        {"after": "20m", "notify": ["team:payments/leads"]},
                    ],
                }
            ],
            "heartbeats": [
                {"id": "nightly-backup", "service": "accounts", "interval": "1d", "grace": "2h"}
            ],
            "status_page": {"title": "Acme status", "components": COMPONENTS},
            "integrations": {"webhook": [{"name": "hooks", "token": HOOK}]},
            "actions": [_action()],
        }
    )


def _action() -> dict[str, Any]:
    return {
        "name": "rollback",
        "description": "Roll the service back to a previous version",
        "dangerous": True,
        "command": [*PY_EXEC, "print('rolled back')", "{service}", "{version}"],
        "params": {"version": {"pattern": "[0-9.]+", "description": "The version to run"}},
    }


@pytest.fixture
def site(live_server: str, runtime: Runtime, clock: FrozenClock) -> dict[str, str]:
    """Fill every page: alerts (one silenced), silences, an override, a resolved incident with
    public updates and a postmortem (5 whys, fishbone, action items), an open SEV-1 with
    notes, checklist progress, a role and status updates. Return the base URL and names."""
    for name in ("rita", "dee", "lee"):
        add_user(runtime, name, "admin")  # admins see every page there is (the audit log too)
    with runtime.db.transaction() as session:
        profile.set_preferences(session, user="dee", time_zone=None, theme="dark")
        profile.set_preferences(session, user="lee", time_zone=None, theme="light")
    token = make_token(runtime, "ada", "admin")
    rita = Actor(name="rita", source="api", role="responder")
    with httpx.Client(
        base_url=live_server, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:

        def call(method: str, url: str, body: dict[str, Any]) -> Any:
            answer = http.request(method, url, json=body)
            assert answer.status_code in (200, 201), f"{method} {url}: {answer.text}"
            return answer.json()

        for key, title, labels in (
            ("co-1", "Checkout p99 latency above 4 s", {"service": "checkout"}),
            ("se-1", "Search returns empty results", {"service": "search", "env": "prod"}),
            ("se-2", "Search index lag over 10 min", {"service": "search"}),
            ("ac-1", "Login error rate 3 %", {"service": "accounts"}),
        ):
            delivered = http.post(
                "/api/v1/intake/webhook",
                json={"title": title, "dedup_key": key, "status": "firing", "labels": labels},
                headers={"Authorization": f"Bearer {HOOK}"},
            )
            assert delivered.status_code == 200, delivered.text
        clock.advance(timedelta(minutes=5))
        http.post(
            "/api/v1/intake/webhook",
            json={"title": "Login error rate 3 %", "dedup_key": "ac-1", "status": "resolved"},
            headers={"Authorization": f"Bearer {HOOK}"},
        ).raise_for_status()
        call("POST", "/api/v1/oncall/overrides", {
            "schedule": "payments", "layer": "primary", "person": "lee", "mode": "replace",
            "duration_minutes": 8 * 60, "reason": "rita at the dentist",
        })  # fmt: skip

        # A resolved SEV-2 with public updates and a postmortem in review.
        past = runtime.flows.declare(
            actor=rita, title="Checkout p99 above 4 s after deploy 1.42", severity="SEV-2",
            service="checkout", summary="p99 latency of /pay jumped after the 1.42 deploy",
        ).ref  # fmt: skip
        clock.advance(timedelta(minutes=3))
        runtime.flows.acknowledge(past, actor=rita)
        clock.advance(timedelta(minutes=9))
        runtime.flows.transition(past, "triage", actor=rita, fields={
            "commander": "rita", "impact": "EU checkout slow", "scope": "checkout",
            "priority": "P1",
        })  # fmt: skip
        call("POST", f"/api/v1/incidents/{past}/status-updates", {
            "status": "identified", "body": "Payments are slow; we are rolling back.",
            "components": {"api": "degraded_performance"}, "public_title": "Slow checkout",
        })  # fmt: skip
        clock.advance(timedelta(minutes=20))
        runtime.flows.transition(past, "mitigate", actor=rita, note="Rolled back to 1.41")
        clock.advance(timedelta(minutes=30))
        runtime.flows.transition(past, "resolve", actor=rita, skip_verification=SKIP)
        call("POST", f"/api/v1/incidents/{past}/status-updates", {
            "status": "resolved", "body": "Checkout is fast again.",
            "components": {"api": "operational"},
        })  # fmt: skip
        call("PUT", f"/api/v1/incidents/{past}/postmortem", {
            "summary": "Deploy 1.42 slowed checkout for 62 minutes.",
            "impact": "About 4 % of EU payments timed out.",
            "root_cause": "An N+1 query in the basket service.",
            "five_whys": [
                {"question": "Why was checkout slow?", "answer": "300 queries per request."},
                {"question": "Why so many queries?", "answer": "The ORM loaded items one by one."},
                {"question": "Why was it not caught?", "answer": "No load test before deploys."},
            ],
            "fishbone": {
                "Process": ["No canary stage", "No load test"],
                "Technology": ["ORM lazy loading"],
                "People": ["Reviewer new to the basket service"],
            },
            "contributing_factors": ["Friday deploy"],
            "went_well": ["Rollback took 4 minutes"],
            "went_poorly": ["Paging reached the secondary late"],
            "got_lucky": ["Low traffic hour"],
            "status": "in_review",
        })  # fmt: skip
        for kind, title, owner, due, jira in (
            ("short_term", "Add a canary stage to the deploy", "sam", "2026-03-20", "OPS-77"),
            ("long_term", "Load-test checkout in CI", "rita", "2026-04-30", None),
            ("long_term", "Lint for N+1 queries", None, None, None),
        ):
            call("POST", f"/api/v1/incidents/{past}/postmortem/action-items", {
                "kind": kind, "title": title, "owner": owner, "due_date": due, "jira_key": jira,
            })  # fmt: skip

        # An open SEV-1, under way.
        clock.advance(timedelta(hours=2))
        now = runtime.flows.declare(
            actor=rita, title="Payments API returns 502 for EU cards", severity="SEV-1",
            service="checkout", summary="Card payments from the EU fail since 11:40",
        ).ref  # fmt: skip
        clock.advance(timedelta(minutes=2))
        runtime.flows.acknowledge(now, actor=rita)
        runtime.flows.transition(now, "triage", actor=rita, fields={
            "commander": "rita", "impact": "No EU card payments",
            "scope": "checkout, payments-gw in eu-west-1", "priority": "P1",
        })  # fmt: skip
        runtime.flows.note(now, actor=rita, text="Error rate 38 % on payments-gw since 11:40")
        clock.advance(timedelta(minutes=4))
        runtime.flows.note(now, actor=rita, text=DASHBOARD)
        call("POST", f"/api/v1/incidents/{now}/roles", {"role": "scribe", "person": "sam"})
        checklist = call("GET", f"/api/v1/incidents/{now}/checklist", {})
        items = [item for section in checklist["sections"] for item in section["items"]]
        call("PATCH", f"/api/v1/incidents/{now}/checklist/{items[0]['id']}", {"done": True})
        call("PATCH", f"/api/v1/incidents/{now}/checklist/{items[1]['id']}", {
            "skipped_reason": "no autoscaling on payments-gw",
        })  # fmt: skip
        for item in items[2:4]:
            call("PATCH", f"/api/v1/incidents/{now}/checklist/{item['id']}", {"owner": "rita"})
        call("POST", f"/api/v1/incidents/{now}/status-updates", {
            "status": "investigating", "body": "Card payments in Europe fail; we are on it.",
            "components": {"api": "partial_outage"}, "public_title": "EU card payments fail",
        })  # fmt: skip
        call("POST", f"/api/v1/incidents/{now}/status-updates", {
            "status": "identified", "body": "payments-gw TLS certificate expired", "public": False,
        })  # fmt: skip
        call("POST", "/api/v1/silences", {
            "matchers": ['service="search"', 'env=~"prod|staging"'], "duration_minutes": 120,
            "comment": "search reindex, rita",
        })  # fmt: skip
        old = call("POST", "/api/v1/silences", {
            "matchers": ['service="accounts"'], "duration_minutes": 30, "comment": "login deploy",
        })  # fmt: skip
        call("POST", f"/api/v1/silences/{old['id']}/expire", {})
    active = sorted(p.name for p in runtime.runbooks.active.glob(f"{now}-*.md"))
    archive = sorted(p.name for p in runtime.runbooks.archive.glob(f"{past}-*.md"))
    assert active and archive, (active, archive)
    return {
        "base": live_server,
        "open": now,
        "resolved": past,
        "active": active[0],
        "archive": archive[0],
    }


def test_the_sweep_visits_every_page_route() -> None:
    gets = {path for method, path in page_routes() if method == "GET"}
    assert gets == {key.split(" ", 1)[1] for key in PAGES if key.startswith("GET ")}
    visited = {visit.route for visit in VISITS if visit.route is not None}
    assert sorted(gets - visited - set(NOT_PAGES)) == [], "a page the sweep does not open"
    assert sorted((visited | set(NOT_PAGES)) - gets) == [], "the sweep names a page that is gone"


def luminance(css: str) -> float:
    """Return the relative luminance of a CSS `rgb(…)` colour."""
    channels = [int(float(v)) / 255 for v in css[css.index("(") + 1 : -1].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def serious(axe: Axe, page: Page, options: dict[str, Any]) -> list[str]:
    """Run axe-core; return its serious and critical violations, each with where it is."""
    results = axe.run(page, options=options)
    assert results.response["testEngine"]["name"] == "axe-core"
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in ("serious", "critical"):
            continue
        nodes = violation["nodes"]
        where = "; ".join(
            f"{json.dumps(node['target'])} {node.get('failureSummary', '')[:160]!r}"
            for node in nodes[:3]
        )
        found.append(f"{violation['id']} ({len(nodes)}×): {where}")
    return found


@pytest.mark.parametrize("run", list(RUNS), ids=list(RUNS))
def test_every_page(browser: Browser, site: dict[str, str], tmp_path: Path, run: str) -> None:
    spec = RUNS[run]
    base = site["base"]
    context = browser.new_context(
        viewport=spec.viewport,
        color_scheme="dark" if spec.system == "dark" else "light",
        timezone_id="America/New_York",
        bypass_csp=spec.axe,  # axe-core is injected: the pages' own policy would refuse it
    )
    problems: dict[str, list[str]] = {}
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    context.on("weberror", lambda e: errors.append(str(e.error)))
    context.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    axe = Axe()
    folder = shots_dir(tmp_path)
    page = context.new_page()
    try:
        for visit in VISITS:
            url = base + visit.url.format(**site)
            if not visit.signed_in:  # no saved theme without a session: the system's decides
                page.emulate_media(color_scheme="dark" if spec.theme == "dark" else "light")
            response = page.goto(url, wait_until="load")
            assert response is not None and response.status == visit.status, (visit, response)
            found = as_shown(page, spec)
            shot = f"{visit.name}-{spec.viewport['width']}-{spec.theme}.png"
            page.screenshot(path=folder / shot, full_page=True)
            # Open every <details>: the forms folded in them must fit and pass axe too.
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            found += [f"opened: {problem}" for problem in too_wide(page)]
            if spec.axe:
                found += serious(axe, page, PHONE_AXE if spec.viewport == PHONE else AXE_OPTIONS)
            if visit.status >= 400:  # Chromium logs the page's own status as an error
                errors[:] = [e for e in errors if f"status of {visit.status}" not in e]
            found += errors
            errors.clear()
            if found:
                problems[visit.name] = found
            if visit.name == "sign-in":
                page.emulate_media(color_scheme="dark" if spec.system == "dark" else "light")
                page.get_by_label("User name").fill(spec.user)
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                expect(page.get_by_role("heading", level=1)).to_have_text("War board")
    finally:
        context.close()
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


def as_shown(page: Page, spec: Run) -> list[str]:
    """Return what is wrong with the page as it first shows."""
    expect(page.locator("main h1")).to_be_visible()
    found = too_wide(page)
    background = luminance(page.evaluate("getComputedStyle(document.body).backgroundColor"))
    if (background < 0.2) != (spec.theme == "dark"):
        found.append(f"not in the {spec.theme} theme (background luminance {background:.2f})")
    return found


def too_wide(page: Page) -> list[str]:
    """Return whatever makes the page wider than the screen."""
    width = page.evaluate("window.innerWidth")
    scroll = page.evaluate("document.documentElement.scrollWidth")
    found = [f"scrolls sideways: {scroll}px at {width}px"] if scroll > width else []
    return found + [f"sticks out: {what}" for what in page.evaluate(WIDE)]
