"""The profile's contact methods and notification rules: plain forms (no JavaScript needed),
codes by real e-mail (aiosmtpd), and the section on a 375 px phone in Chromium."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

# The loopback Slack server, aiosmtpd and lena's configuration: the API tests' fixtures.
from tests.api.test_contact_methods import Vendors, config, rows, vendors_fixture  # noqa: F401
from tests.web.test_pages import PASSWORD, add_user, sign_in
from tests.web.test_pages_browser import PHONE, shots_dir
from warroom.runtime import Runtime


def form(client: TestClient, csrf: str, path: str, **fields: str) -> str:
    """Post a profile form; return the page it answers with."""
    answer = client.post(path, data={"csrf_token": csrf, **fields})
    return f"{answer.status_code} {answer.text}"


def test_add_verify_rules_and_remove_with_plain_forms(
    client: TestClient, runtime: Runtime, vendors: Vendors
) -> None:
    add_user(runtime, "lena", "viewer")
    csrf = sign_in(client, "lena")
    page = client.get("/profile").text
    assert "Contact methods and notification rules" in page
    assert "lena@example.com" in page and "from warroom.yaml" in page
    assert "the defaults (<code>notifications.rules</code>) apply" in page
    no_csrf = client.post("/profile/contact-methods", data={"name": "home"})
    assert no_csrf.status_code == 403
    added = form(
        client, csrf, "/profile/contact-methods", name="home", kind="email", to="lena@home.example"
    )
    assert added.startswith("200 ")
    assert "A code was sent to lena@home.example: type it below to verify home." in added
    assert 'action="/profile/contact-methods/home/verify"' in added and "not verified" in added
    code = vendors.mail_code("lena@home.example")
    wrong = "000000" if code != "000000" else "111111"
    refused = form(client, csrf, "/profile/contact-methods/home/verify", code=wrong)
    assert refused.startswith("422 ") and "wrong code for &#39;home&#39;; 4 attempt(s)" in refused
    done = form(client, csrf, "/profile/contact-methods/home/verify", code=code)
    assert "home is verified: pages can use it now." in done
    assert 'action="/profile/contact-methods/home/verify"' not in done
    bad = form(client, csrf, "/profile/notification-rules", steps="0m: home\n2m sms")
    assert bad.startswith("422 ") and "is not a step; write it as `2m: sms, voice`" in bad
    assert "2m sms</textarea>" in bad  # what was typed stays in the editor
    saved = form(client, csrf, "/profile/notification-rules", steps="0m: home, chat\n\n2m: sms")
    assert "Your rules are saved." in saved
    assert "you have no SMS contact method: `sms` reaches nobody" in saved
    assert "Your rules come from you" in saved and "0s: home, chat\n2m: sms</textarea>" in saved
    removed = form(client, csrf, "/profile/contact-methods/home/remove")
    assert "home removed." in removed and "your notification rules name &#39;home&#39;" in removed
    assert rows(runtime) == []
    cleared = form(client, csrf, "/profile/notification-rules/clear")
    assert "Your own rules are gone" in cleared and "the defaults (<code>" in cleared
    missing = form(client, csrf, "/profile/contact-methods/ghost/remove")
    assert missing.startswith("404 ") and "you have no contact method named" in missing


def test_sms_without_twilio_says_which_setting(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "lena", "viewer")
    csrf = sign_in(client, "lena")
    page = form(client, csrf, "/profile/contact-methods", name="m", kind="sms", to="+4915112345")
    assert page.startswith("409 ") and "SMS is not configured (integrations.twilio)" in page


def test_a_user_who_is_not_a_person_sees_why(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "ada", "admin")
    sign_in(client, "ada")
    page = client.get("/profile").text
    assert "You are not a person under <code>people:</code> in warroom.yaml" in page
    assert 'action="/profile/contact-methods"' not in page


def test_the_section_on_a_phone_without_javascript(
    browser: Browser, live_server: str, runtime: Runtime, vendors: Vendors, tmp_path: object
) -> None:
    add_user(runtime, "lena", "viewer")
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/sign-in?next=/profile")
        page.get_by_label("User name").fill("lena")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(
            page.get_by_role("heading", name="Contact methods and notification rules")
        ).to_be_visible()
        page.get_by_label("Name (what rules call it)").fill("work-slack")
        page.get_by_label("Type").select_option("chat")
        page.get_by_label("Address").fill("ULENA9")
        page.get_by_role("button", name="Add and send a code").click()
        expect(page.get_by_role("status")).to_contain_text("A code was sent to ULENA9")
        folder = shots_dir(tmp_path)  # type: ignore[arg-type]
        page.locator("#paging").screenshot(path=str(folder / "profile-code-sent-phone.png"))
        page.get_by_label("Code for work-slack").fill(vendors.slack_code("ULENA9"))
        page.get_by_role("button", name="Verify").click()
        expect(page.get_by_role("status")).to_contain_text("work-slack is verified")
        page.get_by_label("Your own rules, one step a line").fill("0m: work-slack\n5m: email")
        page.get_by_role("button", name="Save rules").click()
        expect(page.get_by_role("status")).to_contain_text("Your rules are saved.")
        page.locator("#paging").scroll_into_view_if_needed()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the profile is {width} px wide on a 375 px phone"
        page.locator("#paging").screenshot(path=str(folder / "profile-paging-phone.png"))
        text = page.locator("#paging").inner_text()
        assert re.search(r"after 0s: work-slack", text) and "verified" in text
    finally:
        context.close()
