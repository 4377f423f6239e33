"""Mitigation checklists over HTTP and the CLI, on both databases: progress, changes, refusals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.cli.test_incident_cli import Cli, cli, error, ok  # noqa: F401  (fixture)
from tests.helpers import SKIP
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.actor import Actor
from warroom.incidents.models import ChecklistItem, TimelineEvent
from warroom.runtime import Runtime

RITA = Actor(name="rita", source="api")
# The generic template: Containment 3, Remediation 3, Verification 2 items.
SECTIONS = [("Containment", 3), ("Remediation", 3), ("Verification", 2)]


@pytest.fixture
def config() -> WarroomConfig:
    """Two configured people, so owners are checked."""
    return WarroomConfig.model_validate(
        {"people": [{"id": "rita", "name": "Rita"}, {"id": "bob", "name": "Bob"}]}
    )


def declare(runtime: Runtime, title: str = "Checkout is down") -> str:
    """Declare an incident as rita (generic runbook); return its ref."""
    return runtime.flows.declare(actor=RITA, title=title).ref


def url(ref: str, item_id: int | None = None) -> str:
    base = f"/api/v1/incidents/{ref}/checklist"
    return base if item_id is None else f"{base}/{item_id}"


def entries(api: TestClient, ref: str = "INC-1") -> list[dict[str, Any]]:
    """Return every item of the incident's checklist, in order."""
    answer = api.get(url(ref))
    assert answer.status_code == 200, answer.text
    return [item for section in answer.json()["sections"] for item in section["items"]]


def item_id(api: TestClient, number: int, ref: str = "INC-1") -> int:
    return int(entries(api, ref)[number - 1]["id"])


@dataclass
class Event:
    id: int
    at: datetime
    actor: str | None
    source: str
    text: str
    data: dict[str, Any]


def events(runtime: Runtime) -> list[Event]:
    """Return the `checklist` timeline events, oldest first."""
    with runtime.db.session() as session:
        stmt = select(TimelineEvent).where(TimelineEvent.kind == "checklist")
        rows = session.scalars(stmt.order_by(TimelineEvent.id))
        return [Event(r.id, r.at, r.actor, r.source, r.text, dict(r.data)) for r in rows]


def runbook_file(runtime: Runtime) -> str:
    """Return the text of the single active runbook file."""
    (path,) = (runtime.settings.runbooks_dir / "active").glob("*.md")
    return Path(path).read_text()


def snapshot(runtime: Runtime) -> tuple[Any, ...]:
    """Return everything a refused change must leave alone."""
    with runtime.db.session() as session:
        rows = session.scalars(select(ChecklistItem).order_by(ChecklistItem.id))
        items = [
            (r.id, r.owner, r.done_at, r.done_by, r.skipped_reason, r.note, r.text) for r in rows
        ]
        count = session.scalar(select(func.count()).select_from(TimelineEvent))
    files = sorted((p.name, p.read_text()) for p in runtime.settings.runbooks_dir.rglob("INC-*.md"))
    return items, count, files


def test_checklist_is_grouped_by_section_with_progress(runtime: Runtime, api: TestClient) -> None:
    ref = declare(runtime)
    answer = api.get(url(ref))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["incident"], body["status"]) == ("INC-1", "detected")
    assert [(s["name"], s["progress"]["total"]) for s in body["sections"]] == SECTIONS
    assert body["progress"] == {"done": 0, "skipped": 0, "open": 8, "total": 8, "completed": 0}
    numbers = [i["number"] for s in body["sections"] for i in s["items"]]
    assert numbers == list(range(1, 9))
    first = body["sections"][0]["items"][0]
    assert first["state"] == "open" and first["text"].startswith("Limit the blast radius")
    assert api.get(url("2")).status_code == 404


def test_done_records_who_when_event_and_file(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(runtime)
    verify = entries(api)[6]
    assert verify["section"] == "Verification"
    answer = api.patch(url(ref, verify["id"]), json={"done": True, "note": "dashboards green"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["changes"] == ["done", "note"]
    assert body["item"]["state"] == "done" and body["item"]["done_by"] == "rita"
    assert body["item"]["note"] == "dashboards green"
    assert body["section_progress"] == {
        "done": 1,
        "skipped": 0,
        "open": 1,
        "total": 2,
        "completed": 1,
    }
    assert body["progress"]["completed"] == 1 and body["progress"]["open"] == 7

    (event,) = events(runtime)
    assert body["event_id"] == event.id
    assert event.text == (f'Verification: "{verify["text"]}" done by rita; note: dashboards green')
    assert (event.actor, event.source, event.at) == ("rita", "api", clock.now())
    assert event.data["item_id"] == verify["id"] and event.data["section"] == "Verification"
    assert event.data["change"] == "done" and event.data["changes"] == ["done", "note"]
    assert event.data["state"] == "done"

    text = runbook_file(runtime)
    assert f"- [x] {verify['text']} (done by rita at 2026-03-02T09:00:00Z)" in text
    assert "— note: dashboards green" in text
    assert "## Checklist (1/8)" in text
    assert "Containment 0/3 · Remediation 0/3 · Verification 1/2" in text
    assert "done by rita; note: dashboards green" in text  # the timeline row


def test_skip_undo_and_redo_each_leave_an_event(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(runtime)
    target = entries(api)[2]
    path = url(ref, target["id"])

    skipped = api.patch(path, json={"skipped_reason": "  no feature flag exists  "}).json()
    assert skipped["item"]["state"] == "skipped"
    assert skipped["item"]["skipped_reason"] == "no feature flag exists"
    assert skipped["section_progress"]["skipped"] == 1
    assert skipped["section_progress"]["completed"] == 1
    text = runbook_file(runtime)
    assert f"- [ ] ~~{target['text']}~~ — skipped: no feature flag exists" in text
    assert "Containment 1/3" in text

    clock.advance(timedelta(minutes=1))
    unskipped = api.patch(path, json={"skipped_reason": None}).json()
    assert unskipped["changes"] == ["unskipped"] and unskipped["item"]["state"] == "open"

    api.patch(path, json={"skipped_reason": "not needed"})
    done = api.patch(path, json={"done": True}).json()  # done replaces the skip
    assert done["item"]["state"] == "done" and done["item"]["skipped_reason"] is None
    undone = api.patch(path, json={"done": False}).json()
    assert undone["changes"] == ["undone"] and undone["item"]["done_at"] is None

    texts = [e.text for e in events(runtime)]
    quoted = f'Containment: "{target["text"]}"'
    assert texts == [
        f"{quoted} skipped by rita: no feature flag exists",
        f"{quoted} no longer skipped by rita",
        f"{quoted} skipped by rita: not needed",
        f"{quoted} done by rita (was skipped)",
        f"{quoted} marked not done by rita",
    ]
    assert [e.data["change"] for e in events(runtime)] == [
        "skipped",
        "unskipped",
        "skipped",
        "done",
        "undone",
    ]
    assert events(runtime)[0].data["reason"] == "no feature flag exists"
    assert f"- [ ] {target['text']}\n" in runbook_file(runtime)


def test_owner_and_note_changes(runtime: Runtime, api: TestClient) -> None:
    ref = declare(runtime)
    target = entries(api)[3]
    path = url(ref, target["id"])

    assigned = api.patch(path, json={"owner": "bob"}).json()
    assert assigned["changes"] == ["owner"] and assigned["item"]["owner"] == "bob"
    assert f"- [ ] {target['text']} (owner: bob)" in runbook_file(runtime)
    api.patch(path, json={"note": "waiting for the deploy lock"})
    assert "(owner: bob) — note: waiting for the deploy lock" in runbook_file(runtime)
    api.patch(path, json={"done": True})
    assert f"- [x] {target['text']} (done by rita at 2026-03-02T09:00:00Z; owner: bob)" in (
        runbook_file(runtime)
    )
    cleared = api.patch(path, json={"owner": None, "note": ""}).json()
    assert cleared["changes"] == ["owner", "note"]
    assert (cleared["item"]["owner"], cleared["item"]["note"]) == (None, None)

    data = [e.data for e in events(runtime)]
    assert (data[0]["owner"], data[0]["previous_owner"]) == ("bob", None)
    assert data[1]["note"] == "waiting for the deploy lock"
    assert (data[3]["owner"], data[3]["previous_owner"]) == (None, "bob")
    assert events(runtime)[0].text.endswith("assigned to bob")
    assert events(runtime)[3].text.endswith("unassigned; note cleared")


def test_a_change_that_changes_nothing_writes_nothing(runtime: Runtime, api: TestClient) -> None:
    ref = declare(runtime)
    path = url(ref, item_id(api, 1))
    api.patch(path, json={"done": True, "owner": "bob"})
    before = snapshot(runtime)
    for body in ({"done": True}, {"owner": "bob"}, {"done": True, "skipped_reason": None}):
        answer = api.patch(path, json=body)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["changes"], answer.json()["event_id"]) == ([], None)
    assert snapshot(runtime) == before


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({}, 422, "nothing to change"),
        ({"done": True, "skipped_reason": "n/a"}, 422, "either done or skipped"),
        ({"skipped_reason": "   "}, 422, "skipped_reason"),
        ({"skipped_reason": ""}, 422, "skipped_reason"),
        ({"done": None}, 422, "true or false"),
        ({"done": "maybe"}, 422, "done"),
        ({"owner": "mallory"}, 422, "unknown person 'mallory'"),
        ({"owner": ""}, 422, "owner"),
        ({"note": "x" * 2001}, 422, "note"),
        ({"done": True, "colour": "red"}, 422, "colour"),
    ],
)
def test_bad_bodies_are_422_and_write_nothing(
    runtime: Runtime, api: TestClient, body: dict[str, Any], status: int, says: str
) -> None:
    ref = declare(runtime)
    before = snapshot(runtime)
    answer = api.patch(url(ref, item_id(api, 1)), json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.text
    assert answer.json()["error"]["code"] == "invalid"
    assert snapshot(runtime) == before


def test_unknown_items_and_incidents_are_404(runtime: Runtime, api: TestClient) -> None:
    declare(runtime)
    declare(runtime, "Search is slow")
    other = item_id(api, 1, "INC-2")
    before = snapshot(runtime)
    for path, says in [
        (url("INC-1", other), f"INC-1 has no checklist item {other}"),
        (url("INC-1", 99_999), "INC-1 has no checklist item 99999"),
        (url("INC-7", other), "no incident INC-7"),
    ]:
        answer = api.patch(path, json={"done": True})
        assert answer.status_code == 404, answer.text
        assert says in answer.json()["error"]["message"]
    for bad in ("0", "x", str(2**40)):
        assert api.patch(url("INC-1") + f"/{bad}", json={"done": True}).status_code == 422
    assert snapshot(runtime) == before


def test_closed_incident_is_409_but_resolved_still_changes(
    runtime: Runtime, api: TestClient
) -> None:
    ref = declare(runtime)
    path = url(ref, item_id(api, 8))
    runtime.flows.transition(ref, "resolve", actor=RITA, skip_verification=SKIP)
    assert api.patch(path, json={"done": True}).status_code == 200  # was skipped on resolve
    runtime.flows.transition(ref, "close", actor=RITA)
    before = snapshot(runtime)
    answer = api.patch(path, json={"done": False})
    assert answer.status_code == 409, answer.text
    assert "INC-1 is closed" in answer.json()["error"]["message"]
    assert snapshot(runtime) == before
    assert api.get(url(ref)).json()["progress"]["done"] == 1  # still readable


def test_roles(runtime: Runtime, client: TestClient, tokens: dict[str, str]) -> None:
    ref = declare(runtime)
    client.headers["Authorization"] = f"Bearer {tokens['viewer']}"
    first = entries(client)[0]["id"]
    before = snapshot(runtime)
    answer = client.patch(url(ref, first), json={"done": True})
    assert answer.status_code == 403, answer.text
    del client.headers["Authorization"]
    assert client.get(url(ref)).status_code == 401
    assert client.patch(url(ref, first), json={"done": True}).status_code == 401
    assert snapshot(runtime) == before
    client.headers["Authorization"] = f"Bearer {tokens['admin']}"
    assert client.patch(url(ref, first), json={"done": True}).json()["item"]["done_by"] == "ada"


def test_cli_source_is_recorded(runtime: Runtime, api: TestClient) -> None:
    ref = declare(runtime)
    headers = {"X-Warroom-Client": "cli"}
    api.patch(url(ref, item_id(api, 1)), json={"done": True}, headers=headers)
    assert events(runtime)[0].source == "cli"


# --- the CLI against a live server -------------------------------------------------------


def test_cli_check_skip_assign_and_table(cli: Cli, runtime: Runtime) -> None:  # noqa: F811
    declare(runtime)
    out = ok(cli("check", "INC-1", "7", "--note", "error rate 0.2%"))
    assert out.splitlines() == [
        "INC-1 item 7 (Verification: Check the user-facing symptom is gone (dashboards, "
        "synthetic checks, a real request).): done, note; it is done",
        "Verification 1/2, checklist 1/8",
    ]
    out = ok(cli("skip", "1", "3", "--reason", "no feature flag exists"))
    assert "skipped; it is skipped" in out and "Containment 1/3 (1 skipped)" in out
    assert "checklist 2/8 (1 skipped)" in out
    ok(cli("assign-item", "INC-1", "4", "bob"))
    assert "nothing changed, it is done" in ok(cli("check", "INC-1", "7"))

    table = ok(cli("checklist", "INC-1"))
    assert "INC-1 checklist 2/8 (1 skipped)" in table
    assert "Containment 1/3 (1 skipped)" in table and "Verification 1/2" in table
    assert "✓" in table and "by rita at 2026-03-02 09:00; note: error rate 0.2%" in table
    assert "reason: no feature flag exists" in table and "bob" in table
    assert table.index("Containment") < table.index("Remediation") < table.index("Verification")

    undone = json.loads(ok(cli("check", "INC-1", "3", "--undo", "--json")))
    assert undone["changes"] == ["unskipped"] and undone["item"]["state"] == "open"
    cleared = json.loads(ok(cli("assign-item", "INC-1", "4", "--nobody", "--json")))
    assert cleared["item"]["owner"] is None

    listed = json.loads(ok(cli("checklist", "INC-1", "--json")))
    assert listed["progress"]["completed"] == 1
    assert [e.source for e in events(runtime)] == ["cli"] * 5


def test_cli_refusals(cli: Cli, runtime: Runtime) -> None:  # noqa: F811
    declare(runtime)
    before = snapshot(runtime)
    assert "INC-1 has no item 9; its items are numbered 1 to 8" in error(cli("check", "1", "9"))
    assert "unknown person 'mallory'" in error(cli("assign-item", "1", "2", "mallory"))
    assert "no incident INC-5" in error(cli("checklist", "5"))
    assert "role" in error(cli("check", "1", "1", token=runtime_viewer(runtime)))
    for args in (
        ("check", "1", "0"),
        ("check", "1", "two"),
        ("skip", "1", "2"),
        ("skip", "1", "2", "--reason", "  "),
        ("assign-item", "1", "2"),
        ("assign-item", "1", "2", "bob", "--nobody"),
    ):
        assert cli(*args).exit_code == 2, args
    assert snapshot(runtime) == before
    runtime.flows.transition("1", "resolve", actor=RITA, skip_verification=SKIP)
    runtime.flows.transition("1", "close", actor=RITA)
    assert "INC-1 is closed" in error(cli("check", "1", "1"))


def runtime_viewer(runtime: Runtime) -> str:
    """Return a viewer's token."""
    from tests.conftest import make_token

    return make_token(runtime, "val", "viewer")


def test_a_new_incident_type_brings_its_runbook_and_keeps_work_done(
    runtime: Runtime, api: TestClient
) -> None:
    # A user report opens a generic incident; triage finds a data breach.
    ref = declare(runtime, title="Customer says their account was taken over")
    first = entries(api)[0]
    assert api.patch(url(ref, first["id"]), json={"done": True}).status_code == 200
    assert api.patch(url(ref, entries(api)[1]["id"]), json={"owner": "bob"}).status_code == 200
    answer = api.patch(f"/api/v1/incidents/{ref}", json={"incident_type": "security"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["runbook_template"] == "security-breach"
    assert body["visibility"] == "restricted"  # the security type is restricted
    sections = [s["name"] for s in api.get(url(ref)).json()["sections"]]
    assert "Eradication" in sections and sections.index("Eradication") < sections.index(
        "Verification"
    )
    items = entries(api)
    texts = [i["text"] for i in items]
    assert first["text"] in texts  # done work stays
    assert any(i["owner"] == "bob" for i in items)  # so does an owned item
    assert "Rotate every secret the attacker could have read." in texts
    assert [i["number"] for i in items] == list(range(1, len(items) + 1))
    (event,) = [e for e in body["timeline"] if e["kind"] == "runbook_changed"]
    assert event["text"].startswith("Runbook is now security-breach (was generic): ")
    assert event["data"]["kept"] == 2 and event["data"]["added"] > 0
    assert "Eradication" in runbook_file(runtime)
    # The same type again changes nothing.
    again = api.patch(f"/api/v1/incidents/{ref}", json={"incident_type": "security"}).json()
    assert [e["kind"] for e in again["timeline"]].count("runbook_changed") == 1


def test_type_visibility_and_runbook_changes_are_key_events(
    runtime: Runtime, api: TestClient
) -> None:
    ref = declare(runtime, title="Customer says their account was taken over")
    body = api.patch(f"/api/v1/incidents/{ref}", json={"incident_type": "security"}).json()
    starred = {
        e["kind"]: e["key_event"]
        for e in body["timeline"]
        if e["kind"] not in ("declared", "commander_changed")
    }
    assert starred == {"field_changed": True, "runbook_changed": True}
    changed = [e["data"]["field"] for e in body["timeline"] if e["kind"] == "field_changed"]
    assert changed == ["incident_type", "visibility"]
