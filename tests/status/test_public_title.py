"""The public title: chosen on an incident's first public update, kept, and the only name shown.

An alert opens an incident under the alert's own wording ("HighCPUUsage on 10.0.0.7:9100");
that title is internal. These tests run the public surfaces for real — the HTML page, the
Atom feed, the JSON summary and the Statuspage mirror (our loopback Statuspage) — and look
for the internal wording in every byte they send.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from tests.helpers import verify
from tests.notify.statuspage_server import API_KEY, PAGE_ID, StatuspageServer
from tests.status.conftest import COMPONENTS, declare
from tests.status.test_service import counts, post, public
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.core.errors import Invalid
from warroom.runtime import Runtime
from warroom.status.models import StatusUpdate
from warroom.status.service import PublicTitleNeeded

INTERNAL = "HighCPUUsage on 10.0.0.7:9100"
LEAKS = ("HighCPUUsage", "10.0.0.7", "node_exporter")  # the title and the alert's description
AM_TOKEN = "am-public-title-token"
SP_CHECKOUT = "cmpcheckout01"


# -- the service ------------------------------------------------------------------------------


def test_first_public_update_needs_a_public_title(runtime: Runtime) -> None:
    ref = declare(runtime, INTERNAL, service="checkout")
    with pytest.raises(PublicTitleNeeded) as caught:
        post(runtime, ref)
    assert caught.value.status == 422 and caught.value.code == "public_title_needed"
    assert caught.value.message == (
        f"the first public update of {ref} needs a public title: the incident's own title is "
        "internal (add public_title)"
    )
    assert caught.value.details == {"field": "public_title", "ref": ref}
    assert counts(runtime) == (0, 0)
    post(runtime, ref, public=False, body="CPU pinned on one node")  # private: no title
    with pytest.raises(PublicTitleNeeded):  # a private update names nothing publicly
        post(runtime, ref)
    assert counts(runtime) == (1, 1)


def test_later_updates_keep_the_public_title_or_change_it(
    runtime: Runtime, clock: FrozenClock
) -> None:
    ref = declare(runtime, INTERNAL, service="checkout")
    post(runtime, ref, public_title="Checkout is slow")
    clock.advance(timedelta(minutes=5))
    post(runtime, ref, status="identified", body="Found it")
    assert public(runtime).incidents[0].name == "Checkout is slow"
    clock.advance(timedelta(minutes=5))
    post(runtime, ref, public=False, body="internal only")
    clock.advance(timedelta(minutes=5))
    post(runtime, ref, status="monitoring", body="Fixed", public_title="Payments were delayed")
    assert public(runtime).incidents[0].name == "Payments were delayed"
    with runtime.db.session() as session:
        rows = session.query(StatusUpdate).order_by(StatusUpdate.id).all()
        titles = [row.public_title for row in rows]
    assert titles == ["Checkout is slow", "Checkout is slow", None, "Payments were delayed"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"public_title": " \n "}, "public_title must be 1 to 200 characters"),
        ({"public_title": "x" * 201}, "public_title must be 1 to 200 characters"),
        ({"public": False, "public_title": "Slow"}, "public_title is for public updates"),
    ],
)
def test_bad_public_titles_write_nothing(
    runtime: Runtime, fields: dict[str, Any], message: str
) -> None:
    ref = declare(runtime, INTERNAL, service="checkout")
    with pytest.raises(Invalid, match=message):
        post(runtime, ref, **fields)
    assert counts(runtime) == (0, 0)


def test_the_database_refuses_a_public_update_without_a_public_title(runtime: Runtime) -> None:
    declare(runtime, INTERNAL, service="checkout")
    row = StatusUpdate(
        incident_id=1,
        at=runtime.clock.now(),
        status="identified",
        body="x",
        components={},
        public=True,
        public_title=None,
    )
    with pytest.raises(IntegrityError), runtime.db.transaction() as session:
        session.add(row)
    assert counts(runtime) == (0, 0)


# -- every public surface, with an alert-opened incident ----------------------------------------


@pytest.fixture
def statuspage() -> Iterator[StatuspageServer]:
    with StatuspageServer() as server:
        yield server


@pytest.fixture
def config(statuspage: StatuspageServer) -> WarroomConfig:
    """Alertmanager opens SEV-2 checkout incidents; Statuspage mirrors public updates."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "checkout"}, {"id": "search"}, {"id": "accounts"}],
            "routes": [
                {"match": ['service="checkout"'], "service": "checkout", "severity": "SEV-2"}
            ],
            "integrations": {
                "alertmanager": [{"name": "prod", "token": AM_TOKEN}],
                "statuspage": {
                    "api_key": API_KEY,
                    "page_id": PAGE_ID,
                    "base_url": statuspage.url,
                    "components": {"api": SP_CHECKOUT},
                    "timeout": 3,
                },
            },
            "status_page": {"title": "Acme status", "components": COMPONENTS},
        }
    )


def fire(client: TestClient) -> str:
    """Deliver one firing alert as Alertmanager's webhook (version 4) does; return the ref."""
    alert = {
        "status": "firing",
        "labels": {"alertname": "HighCPUUsage", "instance": "10.0.0.7:9100", "service": "checkout"},
        "annotations": {
            "summary": INTERNAL,
            "description": "node_exporter on 10.0.0.7:9100 reports CPU above 95% for 10m",
        },
        "startsAt": "2026-03-02T08:55:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.internal:9090/graph?g0.expr=cpu",
        "fingerprint": "9f1c2d3e4a5b6c7d",
    }
    payload = {
        "version": "4",
        "groupKey": '{}:{service="checkout"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "warroom",
        "groupLabels": {"service": "checkout"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.internal:9093",
        "alerts": [alert],
    }
    answer = client.post(
        "/api/v1/intake/alertmanager",
        json=payload,
        headers={"Authorization": f"Bearer {AM_TOKEN}"},
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return "INC-1"


def surfaces(client: TestClient, statuspage: StatuspageServer) -> dict[str, str]:
    """Return what each public surface has said, as text, fetched without a token."""
    token = client.headers.pop("Authorization")
    try:
        shown = {
            "page": client.get("/status").text,
            "feed": client.get("/status/feed.atom").text,
            "json": client.get("/api/v1/status").text,
        }
    finally:
        client.headers["Authorization"] = token
    sent = [r.body for r in statuspage.requests] + list(statuspage.incidents.values())
    return {**shown, "statuspage": json.dumps(sent)}


def test_the_internal_title_never_reaches_a_public_surface(
    runtime: Runtime, api: TestClient, client: TestClient, statuspage: StatuspageServer
) -> None:
    ref = fire(client)
    detail = api.get(f"/api/v1/incidents/{ref}").json()
    assert (detail["title"], detail["severity"]) == (INTERNAL, "SEV-2")  # internal, as it came
    path = f"/api/v1/incidents/{ref}/status-updates"
    update = {"status": "investigating", "body": "Some checkouts are slow; we are on it."}

    refused = api.post(path, json=update)
    assert refused.status_code == 422
    assert refused.json()["error"] == {
        "code": "public_title_needed",
        "message": f"the first public update of {ref} needs a public title: the incident's "
        "own title is internal (add public_title)",
        "details": {"field": "public_title", "ref": ref},
    }
    assert api.get(path).json()["items"] == []
    runtime.engine.run_once()
    assert statuspage.requests == []  # nothing queued by the refused update

    first = api.post(path, json={**update, "public_title": "Checkout is slow"})
    assert first.status_code == 201, first.text
    runtime.engine.run_once()
    (mirrored,) = statuspage.incidents.values()
    assert mirrored["name"] == f"Checkout is slow ({ref})"
    shown = surfaces(client, statuspage)
    for surface, text in shown.items():
        assert "Checkout is slow" in text, surface
    json_incident = json.loads(shown["json"])["incidents"][0]
    assert json_incident["name"] == "Checkout is slow"

    # A later update keeps the title; another changes it, on Statuspage too.
    later = api.post(path, json={"status": "identified", "body": "A runaway job; stopping it."})
    assert later.status_code == 201 and later.json()["public_title"] == "Checkout is slow"
    changed = {"status": "monitoring", "body": "Job stopped.", "public_title": "Slow payments"}
    assert api.post(path, json=changed).status_code == 201
    runtime.engine.run_once()
    assert mirrored["name"] == f"Slow payments ({ref})"
    assert statuspage.requests[-1].body["incident"]["name"] == f"Slow payments ({ref})"

    # Resolving sends Statuspage the resolution under the public title as well.
    verify(api, ref)
    assert (
        api.post(f"/api/v1/incidents/{ref}/resolve", json={"note": "CPU normal"}).status_code == 200
    )
    runtime.engine.run_once()
    assert mirrored["status"] == "resolved" and mirrored["name"] == f"Slow payments ({ref})"
    assert statuspage.requests[-1].body["incident"]["name"] == f"Slow payments ({ref})"

    shown = surfaces(client, statuspage)
    assert len(statuspage.incidents) == 1 and len(statuspage.requests) >= 4
    for surface, text in shown.items():
        assert "Slow payments" in text, surface
        for leak in LEAKS:
            assert leak not in text, (surface, leak)
