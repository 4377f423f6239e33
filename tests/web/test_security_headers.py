"""Every response warroom serves carries its security headers (issue 15, hardening): each GET
route of the app, walked as an anonymous caller, an admin's token and a signed-in browser."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.helpers import SKIP
from tests.web.test_offline import get_paths
from tests.web.test_pages import add_user, sign_in
from warroom.api.explorer import policy
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime


def directives(policy_text: str) -> dict[str, str]:
    """Return a Content-Security-Policy as {directive: sources}."""
    parts = (part.strip().split(None, 1) for part in policy_text.split(";") if part.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def check(path: str, headers: dict[str, str] | object, *, https: bool = False) -> str:
    """Assert the security headers of one response; return its media type."""
    get = headers.get  # type: ignore[attr-defined]
    kind = (get("content-type") or "").split(";")[0]
    assert get("x-content-type-options") == "nosniff", path
    csp = directives(get("content-security-policy") or "")
    assert csp.get("frame-ancestors") == "'none'", path
    if kind == "text/html":
        script = csp.get("script-src", csp.get("default-src", ""))
        assert "'unsafe-inline'" not in script and "*" not in script, (path, csp)
        assert csp.get("default-src") in ("'self'", "'none'"), (path, csp)
        assert get("referrer-policy"), path
        assert get("x-frame-options") == "DENY", path
    elif kind == "image/svg+xml":
        assert csp.get("default-src") == "'none'" and "script-src" not in csp, (path, csp)
    assert (get("strict-transport-security") is not None) is https, path
    return kind


def test_every_get_route_answers_with_the_security_headers(
    runtime: Runtime, client: TestClient, tokens: dict[str, str]
) -> None:
    rita = Actor(name="rita", source="api")
    runtime.flows.declare(actor=rita, title="Checkout is slow")
    runtime.flows.transition("INC-1", "resolve", actor=rita, skip_verification=SKIP)
    runtime.postmortems.get("INC-1")  # its fishbone and timeline are SVG
    add_user(runtime, "sam", "admin")
    app = client.app
    assert isinstance(app, FastAPI)
    browser = TestClient(app)
    sign_in(browser, "sam")
    seen: dict[str, set[str]] = {}
    for path in get_paths(app):
        for caller, headers in (
            (client, {}),
            (client, {"Authorization": f"Bearer {tokens['admin']}"}),
            (browser, {}),
        ):
            answer = caller.get(path, headers=headers, follow_redirects=False)
            seen.setdefault(check(path, answer.headers), set()).add(path)
    # The walk found what it is about: pages, the explorer, the status page, the SVGs, JSON.
    assert {"/", "/docs", "/status", "/incidents/INC-1"} <= seen["text/html"]
    assert "/incidents/INC-1/postmortem/fishbone.svg" in seen["image/svg+xml"]
    assert "/api/v1/incidents/INC-1/postmortem/timeline.svg" in seen["image/svg+xml"]
    assert "/api/v1/incidents" in seen["application/json"]
    # Error pages and errors that no route made: 404 of an unknown path, 405.
    check("/nowhere", browser.get("/nowhere").headers)
    check("/status", client.post("/status").headers)
    assert browser.get("/incidents/INC-99").headers["content-type"].startswith("text/html")
    check("/incidents/INC-99", browser.get("/incidents/INC-99").headers)


def test_the_explorer_names_its_one_inline_script_by_hash(client: TestClient) -> None:
    answer = client.get("/docs")
    csp = directives(answer.headers["content-security-policy"])
    assert (
        csp["script-src"].startswith("'self' 'sha256-") and csp["script-src"].count("sha256") == 1
    )
    assert answer.headers["content-security-policy"] == policy(answer.text)


def test_hsts_over_https_only(client: TestClient, runtime: Runtime) -> None:
    # As uvicorn sees it behind --proxy-headers: the scheme X-Forwarded-Proto gave.
    secure = TestClient(client.app, base_url="https://testserver")
    for path in ("/status", "/healthz", "/sign-in"):
        check(path, secure.get(path).headers, https=True)
        check(path, client.get(path).headers, https=False)
    # Or the configured base URL is https (a proxy that does not say the scheme).
    runtime.config_value = WarroomConfig.model_validate(
        {"notifications": {"base_url": "https://warroom.example.com"}}
    )
    check("/status", client.get("/status").headers, https=True)
