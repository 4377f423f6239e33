"""Absolute links never come from the request's Host header (issue 15, hardening): a request
with `Host: evil.example` must not put that host into a page a shared cache keeps."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.status.conftest import declare
from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.runtime import Runtime

EVIL = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
PUBLIC = ("/status", "/status/feed.atom", "/api/v1/status")
SIGNED_IN = ("/oncall", "/profile")


def test_configured_base_url_is_the_only_host_in_absolute_links(
    client: TestClient, runtime: Runtime
) -> None:
    declare(runtime, "Checkout is slow", service="checkout")
    add_user(runtime, "sam", "admin")
    browser = TestClient(client.app, base_url="https://testserver")  # the cookie is Secure
    sign_in(browser, "sam")
    for caller, path in [(client, p) for p in PUBLIC] + [(browser, p) for p in SIGNED_IN]:
        answer = caller.get(path, headers=EVIL)
        assert answer.status_code == 200, (path, answer.text)
        assert "evil.example" not in answer.text, path
    page = client.get("/status", headers=EVIL).text
    assert 'href="https://warroom.example.com/status/feed.atom"' in page
    oncall = browser.get("/oncall", headers=EVIL).text
    assert "https://warroom.example.com/api/v1/people/sam/ical" in oncall


def test_without_a_base_url_links_stay_relative(client: TestClient, runtime: Runtime) -> None:
    runtime.config_value = WarroomConfig.model_validate(
        runtime.config().model_dump(exclude={"notifications"}, exclude_defaults=True)
    )
    assert runtime.config().notifications.base_url is None
    for path in PUBLIC:
        answer = client.get(path, headers=EVIL)
        assert answer.status_code == 200, (path, answer.text)
        assert "evil.example" not in answer.text, path
    assert 'href="/status/feed.atom"' in client.get("/status", headers=EVIL).text
    assert client.get("/api/v1/status", headers=EVIL).json()["page"]["url"] == "/status"
