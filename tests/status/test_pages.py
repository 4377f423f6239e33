"""The public HTML page and the Atom feed: content, escaping, and nothing restricted."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from tests.helpers import SKIP
from tests.status.conftest import declare
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

A = "{http://www.w3.org/2005/Atom}"


def post(api: TestClient, ref: str, body: str, **fields: object) -> dict[str, object]:
    payload = {"status": "investigating", "body": body, **fields}
    response = api.post(f"/api/v1/incidents/{ref}/status-updates", json=payload)
    assert response.status_code == 201, response.text
    answer: dict[str, object] = response.json()
    return answer


@pytest.fixture
def scene(runtime: Runtime, api: TestClient, clock: FrozenClock) -> None:
    """An open incident, a resolved one, a restricted one and a private update."""
    old = declare(runtime, "p99 of search-api over SLO", service="search")
    post(
        api,
        old,
        "Search is slow for some",
        components={"web": "degraded_performance"},
        public_title="Search was slow",
    )
    clock.advance(timedelta(hours=1))
    post(api, old, "Fixed", status="resolved", components={"web": "operational"})
    runtime.flows.transition(
        old, "resolve", actor=Actor(name="rita", source="api"), skip_verification=SKIP
    )
    clock.advance(timedelta(hours=1))
    ref = declare(runtime, "HighErrorRate on checkout-7f9c", service="checkout")
    post(
        api,
        ref,
        "Payments fail\nfor <b>everyone</b>",
        components={"api": "major_outage"},
        public_title="Checkout <script>alert(1)</script> down",
    )
    post(api, ref, "blame the intern", public=False)
    secret = declare(runtime, "Credentials leaked", incident_type="security", service="accounts")
    post(api, secret, "attacker inside", public=False, components={"login": "major_outage"})


@pytest.mark.usefixtures("scene")
def test_page_shows_components_incidents_and_history(client: TestClient) -> None:
    client.headers.pop("Authorization", None)
    response = client.get("/status")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<title>Acme status</title>" in html
    assert 'class="banner indicator-critical"' in html and "Major Service Outage" in html
    assert '<span class="state s-major_outage">Major outage</span>' in html
    assert '<span class="state s-operational">Operational</span>' in html
    assert '<h3 class="group">Platform</h3>' in html
    assert "<small>www.example.com</small>" in html
    # People's text is escaped, never markup; the page needs no script at all.
    assert "<script" not in html and "<b>" not in html
    assert "Checkout &lt;script&gt;alert(1)&lt;/script&gt; down" in html
    assert "Payments fail\nfor &lt;b&gt;everyone&lt;/b&gt;" in html
    current, past = html.split('<h2 id="past">')
    assert 'id="INC-2"' in current and "Search was slow" in past
    assert "Resolved 2 Mar 2026, 10:00 UTC" in past
    assert 'href="https://warroom.example.com/status/feed.atom"' in html
    for hidden in ("Credentials", "attacker", "intern", "INC-3", "rita", "HighErrorRate", "p99"):
        assert hidden not in html


def test_quiet_page(client: TestClient) -> None:
    html = client.get("/status").text
    assert "All Systems Operational" in html and "Current incidents" not in html
    assert "No incidents in the last 14 days." in html


def _text(element: ET.Element, tag: str) -> str:
    found = element.find(A + tag)
    assert found is not None and found.text, f"<{tag}> is missing"
    return found.text


@pytest.mark.usefixtures("scene")
def test_feed_is_atom_with_one_entry_per_public_update(
    client: TestClient, runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    response = client.get("/status/feed.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml"
    feed = ET.fromstring(response.content)
    assert feed.tag == A + "feed"
    assert _text(feed, "title") == "Acme status"
    assert _text(feed, "id") == "https://warroom.example.com/status/feed.atom"
    assert _text(feed, "updated") == "2026-03-02T11:00:00Z"
    assert feed.find(f"{A}author/{A}name") is not None
    links = {link.get("rel"): link.get("href") for link in feed.findall(A + "link")}
    assert links == {
        "self": "https://warroom.example.com/status/feed.atom",
        "alternate": "https://warroom.example.com/status",
    }
    entries = feed.findall(A + "entry")
    titles = [_text(e, "title") for e in entries]
    assert titles == [
        "INC-2: Checkout <script>alert(1)</script> down — Investigating",
        "INC-1: Search was slow — Resolved",
        "INC-1: Search was slow — Investigating",
    ]
    for entry in entries:
        tag = "tag:warroom.example.com,2026-03-02:warroom/status-update/"
        assert _text(entry, "id").startswith(tag)
        datetime.fromisoformat(_text(entry, "updated"))  # RFC 3339
        content = entry.find(A + "content")
        assert content is not None and content.get("type") == "text"
    assert "Payments fail\nfor <b>everyone</b>" in _text(entries[0], "content")
    assert "Public API: major outage" in _text(entries[0], "content")
    assert [c.get("term") for c in entries[0].findall(A + "category")] == ["api"]
    for hidden in (b"Credentials", b"attacker", b"intern", b"INC-3", b"HighErrorRate", b"p99"):
        assert hidden not in response.content

    # Entry ids never change, so feed readers do not show an update twice.
    ids = [_text(e, "id") for e in entries]
    clock.advance(timedelta(minutes=5))
    post(api, "INC-2", "Rolled back", status="monitoring")
    again = ET.fromstring(client.get("/status/feed.atom").content).findall(A + "entry")
    assert [_text(e, "id") for e in again][1:] == ids
    assert len(set(ids)) == len(ids)


def test_feed_uses_public_url(
    config: WarroomConfig, runtime: Runtime, api: TestClient, client: TestClient
) -> None:
    config.status_page.public_url = "https://status.example.com"
    ref = declare(runtime, "Checkout is down", service="checkout")
    post(api, ref, "Looking", public_title="Checkout is down")
    feed = ET.fromstring(client.get("/status/feed.atom").content)
    assert _text(feed, "id") == "https://status.example.com/feed.atom"
    [entry] = feed.findall(A + "entry")
    assert _text(entry, "id").startswith("tag:status.example.com,2026-03-02:")
    link = entry.find(A + "link")
    assert link is not None and link.get("href") == "https://status.example.com#INC-1"
    assert 'href="https://status.example.com/feed.atom"' in client.get("/status").text


def test_empty_feed_is_still_valid(client: TestClient) -> None:
    feed = ET.fromstring(client.get("/status/feed.atom").content)
    assert feed.findall(A + "entry") == []
    for tag in ("id", "title", "updated"):
        _text(feed, tag)


def test_page_shares_the_apps_stylesheet_under_a_tight_policy(client: TestClient) -> None:
    response = client.get("/status")
    html = response.text
    assert '<link rel="stylesheet" href="/static/app.css?v=' in html
    assert "<style" not in html and "style=" not in html
    assert '<body class="status-page">' in html
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "style-src 'self'" in policy
    assert "script-src" not in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    stylesheet = client.get(html.split('<link rel="stylesheet" href="')[1].split('"')[0])
    assert stylesheet.status_code == 200 and ".status-page .banner" in stylesheet.text
