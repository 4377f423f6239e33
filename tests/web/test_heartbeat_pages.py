"""The heartbeats page over HTTP: each heartbeat's state, last ping and incident; the incident
of a restricted type only for those who may see it; a line on how to add some when none are."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.detection.test_heartbeats import NIGHTLY, TOKEN, pinged, settings
from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.models import Incident
from warroom.runtime import Runtime

MARKER = "VAULT-BACKUP-7731"  # in the title of the restricted heartbeat's incident


@pytest.fixture
def config() -> WarroomConfig:
    """Three heartbeats on monitoring; nightly's incident is restricted (security type)."""
    values = settings()
    values["heartbeats"][1]["title"] = f"Nightly backup stopped {MARKER}"
    values["people"].append({"id": "ada", "name": "Ada"})
    return WarroomConfig.model_validate(values)


def rows(page: str) -> dict[str, str]:
    """The table's rows by heartbeat id, as text without tags."""
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        name = re.search(r"<code>([a-z0-9._-]+)</code>", row)
        if name:
            found[name.group(1)] = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    return found


@pytest.fixture
def silent(client: TestClient, runtime: Runtime, clock: FrozenClock) -> dict[str, int]:
    """watchdog and nightly pinged once, then silent: each has opened its incident."""
    add_user(runtime, "vic", "viewer")
    add_user(runtime, "ada", "admin")
    pinged(client, "watchdog", TOKEN)
    pinged(client, "nightly", NIGHTLY)
    clock.advance(timedelta(days=1, minutes=1))
    runtime.engine.run_once()
    with runtime.db.session() as session:
        found = session.execute(select(Incident.title, Incident.number)).all()
    return {"nightly" if MARKER in title else "watchdog": number for title, number in found}


def test_a_viewer_sees_no_heartbeat_of_a_restricted_type_they_may_not_see(
    client: TestClient, silent: dict[str, int]
) -> None:
    sign_in(client, "vic")
    page = client.get("/heartbeats")
    assert page.status_code == 200
    assert MARKER not in page.text and f"INC-{silent['nightly']}" not in page.text
    shown = rows(page.text)
    # nightly opens security incidents: "nightly is silent" would say one is open.
    assert set(shown) == {"watchdog", "routed"}
    watchdog = f"INC-{silent['watchdog']}"
    assert shown["watchdog"] == (
        "watchdog ✕ Silent monitoring 1m + 30s grace 1d 0h ago ( 2026-03-02 09:00:00 UTC ) "
        f"{watchdog} Heartbeat watchdog stopped (monitoring)"
    )
    assert f'href="/incidents/{watchdog}"' in page.text
    assert shown["routed"] == "routed … Never pinged monitoring 1m never —"
    nav = re.search(r'<a href="/alerts" ([^>]*)>', page.text)
    assert nav is not None and 'aria-current="page"' in nav.group(1)
    assert '<a href="/heartbeats" aria-current="page">Heartbeats</a>' in page.text


def test_an_admin_sees_the_restricted_incident_too(
    client: TestClient, silent: dict[str, int]
) -> None:
    sign_in(client, "ada")
    shown = rows(client.get("/heartbeats").text)
    assert f"INC-{silent['nightly']} Nightly backup stopped {MARKER}" in shown["nightly"]


def test_the_last_ping_is_said_relative_and_in_utc(
    client: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    add_user(runtime, "vic", "viewer")
    at = clock.now()
    pinged(client, "watchdog", TOKEN)
    clock.advance(timedelta(seconds=45))
    sign_in(client, "vic")
    page = client.get("/heartbeats").text
    stamp = at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert rows(page)["watchdog"] == (
        f"watchdog ✓ Healthy monitoring 1m + 30s grace 45s ago ( {stamp} ) —"
    )
    assert f'<time datetime="{at.isoformat().replace("+00:00", "Z")}">{stamp}</time>' in page


# Parametrizing `config` overrides the fixture: no heartbeats at all.
@pytest.mark.parametrize("config", [WarroomConfig.model_validate({})])
def test_without_heartbeats_it_says_how_to_add_them(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "vic", "viewer")
    sign_in(client, "vic")
    page = client.get("/heartbeats")
    assert page.status_code == 200
    assert "No heartbeats are configured" in page.text
    assert "docs/heartbeats.md" in page.text and "<table" not in page.text


def test_without_a_session_it_asks_to_sign_in(client: TestClient) -> None:
    answer = client.get("/heartbeats", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=%2Fheartbeats"
