"""Every page warroom serves works offline: no asset or link from another host, and the API
explorer (Swagger UI) renders in Chromium with the network closed but for loopback."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import fastapi.routing
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route, expect

from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Attributes that make a browser fetch something, or send the reader somewhere.
LINKING = {"src", "href", "action", "formaction", "poster", "srcset", "data"}
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)""")
ABSOLUTE = re.compile(r"""(?:https?:)?//[^\s'"`)<>]+""")
# What a parameter in a route's path is filled with when the pages are walked.
SAMPLE = {"ref": "INC-1"}


class References(HTMLParser):
    """Collect every URL an HTML page refers to, and its inline scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.inline: list[str] = []
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "srcset" and value:
                self.urls += [(tag, part.split()[0]) for part in value.split(",") if part.strip()]
            elif name in LINKING and value:
                self.urls.append((tag, value.strip()))
            elif name == "style" and value:
                self.urls += [(tag, url) for url in CSS_URL.findall(value)]
        self._inside = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.inline.append(data)


def is_local(url: str, own_host: str) -> bool:
    """Tell whether `url` stays on this server: relative, a data URI, or this/loopback host."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob"):
        return True
    if not parts.scheme and not parts.netloc:
        return True  # /path, path, ?query, #fragment
    return parts.scheme in ("http", "https", "") and parts.hostname in LOOPBACK | {own_host}


def get_paths(app: FastAPI) -> list[str]:
    """Return the path of every GET route of `app`, parameters filled with sample values."""
    # FastAPI ≥ 0.13x keeps included routers as branches; older ones list routes flat.
    walk = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(walk(app.routes)) if walk else list(app.routes)
    paths = set()
    for route in routes:
        if "GET" not in (getattr(route, "methods", None) or ()):
            continue
        if route.path == "/events":  # the live stream never ends; it carries no markup
            continue
        path = re.sub(r"{(\w+)(?::\w+)?}", lambda m: SAMPLE.get(m[1], "1"), route.path)
        paths.add(path)
    return sorted(paths)


def test_no_page_refers_to_another_host(
    runtime: Runtime, client: TestClient, tokens: dict[str, str]
) -> None:
    runtime.flows.declare(actor=Actor(name="rita", source="api"), title="Checkout is slow")
    own = urlsplit(str(client.base_url)).hostname or ""
    app = client.app
    assert isinstance(app, FastAPI)
    pages: dict[str, str] = {}
    for path in get_paths(app):
        for token in (None, tokens["admin"]):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            answer = client.get(path, headers=headers)
            if answer.headers.get("content-type", "").startswith("text/html"):
                pages[path] = answer.text
    # Walking the routes found the pages a person opens: if it finds none, it tests nothing.
    assert {"/", "/docs", "/status"} <= set(pages)

    assets: set[str] = set()
    for path, html in pages.items():
        found = References()
        found.feed(html)
        outside = [(tag, url) for tag, url in found.urls if not is_local(url, own)]
        assert outside == [], f"{path} refers to another host"
        # A script or style could still load from elsewhere by itself (fetch, @import).
        inline = [u for text in found.inline for u in ABSOLUTE.findall(text)]
        assert [u for u in inline if not is_local(u, own)] == [], f"{path} inline code"
        assets |= {url for tag, url in found.urls if tag in ("script", "link") and url[:1] == "/"}

    # The explorer's own assets, served by warroom itself.
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert any(url.endswith(name) for url in assets), name
    for url in sorted(assets):
        answer = client.get(url)
        assert answer.status_code == 200, url
        if url.endswith(".css"):
            assert answer.headers["content-type"].startswith("text/css")
            bad = [u for u in CSS_URL.findall(answer.text) if not is_local(u, own)]
            assert bad == [], f"{url} loads from another host"
        elif url.endswith(".js"):
            assert "javascript" in answer.headers["content-type"]
            assert len(answer.content) > 100_000  # the real bundle, not a stub
    # ReDoc fetches its logo from cdn.redoc.ly whatever it is told: it is not served.
    assert client.get("/redoc").status_code == 404


def open_offline(browser: Browser, url: str) -> tuple[Page, list[str], list[str]]:
    """Open `url` with every request off loopback refused; return page, refused, errors."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    refused: list[str] = []
    errors: list[str] = []

    def loopback_only(route: Route) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme in ("data", "blob") or parts.hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", loopback_only)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200
    return page, refused, errors


def test_swagger_ui_renders_with_the_network_closed(
    browser: Browser, live_server: str, tmp_path: Path
) -> None:
    page, refused, errors = open_offline(browser, f"{live_server}/docs")
    try:
        operations = page.locator(".opblock")
        expect(operations.first).to_be_visible(timeout=15_000)
        assert operations.count() > 20  # the whole API, not an error box
        expect(page.locator(".info .title")).to_contain_text("warroom")
        health = page.locator(".opblock-summary", has_text="/healthz").first
        health.click()
        expect(page.get_by_role("button", name="Try it out")).to_be_visible()
        page.screenshot(path=str(tmp_path / "docs.png"))
        assert (tmp_path / "docs.png").stat().st_size > 10_000
        assert refused == [], "the explorer reached for another host"
        assert errors == []
    finally:
        page.context.close()
