"""Action items as Jira issues, end to end: API → outbox → the real client → a loopback Jira.

Every test runs on SQLite and PostgreSQL. The Jira side is `tests/notify/jira_server.py`, so
the requests checked here are the ones warroom really sends over a socket.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.notify.jira_server import API_TOKEN, EMAIL, JiraServer
from tests.postmortem.conftest import base, counts, declare, ok
from warroom.cli.main import app
from warroom.config import WarroomConfig, load_config
from warroom.core.clock import FrozenClock
from warroom.core.errors import ConfigError
from warroom.incidents.models import Incident, TimelineEvent
from warroom.notify.fakes import FakeTracker
from warroom.notify.models import Notification
from warroom.notify.ports import Adapters
from warroom.postmortem.models import ActionItem
from warroom.runtime import Runtime

ALICE = "5b10ac8d82e05b22cc7d4ef5"
WEBHOOK_SECRET = "jira-webhook-secret-0123456789abcdef"
ITEMS = "/api/v1/postmortems/action-items"


@pytest.fixture
def jira() -> Iterator[JiraServer]:
    """A loopback Jira Cloud site."""
    with JiraServer() as server:
        yield server


def jira_config(url: str, **overrides: Any) -> WarroomConfig:
    """warroom.yaml with Jira issues (and the Jira webhook) pointed at the loopback site."""
    issues = {
        "base_url": url,
        "deployment": "cloud",
        "email": EMAIL,
        "api_token": API_TOKEN,
        "project": "OPS",
        "assignees": {"alice": ALICE},
        "timeout": 30,  # a loopback answer can take seconds on a loaded CI machine
        **overrides,
    }
    return WarroomConfig.model_validate(
        {
            "integrations": {
                "jira": [{"name": "jira", "secret": WEBHOOK_SECRET}],
                "jira_issues": issues,
            },
            "notifications": {"base_url": "https://warroom.example.com"},
        }
    )


@pytest.fixture
def config(jira: JiraServer) -> WarroomConfig:
    """Jira issues on request (no auto_create)."""
    return jira_config(jira.url)


def resolved(api: TestClient, title: str = "Checkout is slow", **fields: Any) -> str:
    """Declare and resolve an incident (verification skipped); return its ref."""
    ref = declare(api, title, severity="SEV-2", **fields)
    ok(api.post(f"/api/v1/incidents/{ref}/resolve", json={"skip_verification": "test"}))
    return ref


def add(api: TestClient, ref: str, **fields: Any) -> Any:
    body = {"kind": "short_term", "title": "Alert on pool saturation", **fields}
    return ok(api.post(f"{base(ref)}/action-items", json=body), 201)


def patch(api: TestClient, item_id: int, **changes: Any) -> Any:
    return ok(api.patch(f"{ITEMS}/{item_id}", json=changes))


def tracker_rows(runtime: Runtime) -> list[Notification]:
    """Return the Jira rows of the outbox, oldest first (detached, as they are now)."""
    with runtime.db.session() as session:
        stmt = select(Notification).where(Notification.channel == "tracker")
        rows = list(session.scalars(stmt.order_by(Notification.id)))
        session.expunge_all()  # the read session rolls back: keep what was loaded
        return rows


def item(runtime: Runtime, item_id: int) -> ActionItem:
    with runtime.db.session() as session:
        found = session.get(ActionItem, item_id)
        assert found is not None
        session.expunge_all()
        return found


def events(runtime: Runtime, kind: str) -> list[TimelineEvent]:
    with runtime.db.session() as session:
        stmt = select(TimelineEvent).where(TimelineEvent.kind == kind)
        found = list(session.scalars(stmt.order_by(TimelineEvent.id)))
        session.expunge_all()
        return found


def signed(client: TestClient, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"}
    return ok(client.post("/api/v1/intake/jira", content=body, headers=headers))


def issue_updated(key: str, status: str, category: str, **extra: Any) -> dict[str, Any]:
    """A `jira:issue_updated` webhook as Jira Cloud sends it after a status change."""
    return {
        "timestamp": 1772442005123,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "557058:f58131cb", "displayName": "Bob Ruiz"},
        "issue": {
            "id": "10001",
            "key": key,
            "self": "https://acme.atlassian.net/rest/api/2/issue/10001",
            "fields": {
                "summary": "Alert on pool saturation",
                "labels": ["warroom", "postmortem", "warroom-action-1"],
                "status": {"name": status, "statusCategory": {"key": category}},
            },
        },
        "changelog": {
            "id": "10200",
            "items": [{"field": "status", "fromString": "To Do", "toString": status}],
        },
        **extra,
    }


# -- creating ----------------------------------------------------------------------------------


def test_create_on_request_writes_the_key_back(
    runtime: Runtime, api: TestClient, jira: JiraServer
) -> None:
    ref = resolved(api)
    added = add(api, ref, create_jira=True, owner="alice", due_date="2026-03-20")
    assert added["jira_key"] is None
    assert jira.requests == []  # not inside the request: the outbox sends it
    (row,) = tracker_rows(runtime)
    assert (row.action, row.status, row.key) == (
        "create",
        "pending",
        f"jira:item{added['id']}:create",
    )

    runtime.engine.run_once()

    (issue,) = jira.issues.values()
    assert issue.key == "OPS-1" and issue.status == "To Do"
    fields = issue.fields
    assert fields["summary"] == "Alert on pool saturation"
    assert fields["issuetype"] == {"name": "Task"} and fields["project"] == {"key": "OPS"}
    assert fields["labels"] == ["warroom", "postmortem", f"warroom-action-{added['id']}"]
    assert fields["duedate"] == "2026-03-20" and fields["assignee"] == {"accountId": ALICE}
    assert fields["description"].startswith(f"Action item from the postmortem of {ref}: Checkout")
    assert "Incident: https://warroom.example.com/incidents/1" in fields["description"]
    assert item(runtime, added["id"]).jira_key == "OPS-1"
    (row,) = tracker_rows(runtime)
    assert (row.status, row.provider_id) == ("sent", "OPS-1")

    pm = ok(api.get(base(ref)))
    assert pm["action_items"][0]["jira_key"] == "OPS-1"
    texts = [(e["text"], e["actor"]) for e in pm["timeline"]["events"] if e["kind"] == "postmortem"]
    assert texts == [
        ("Action item added: Alert on pool saturation (Jira issue requested)", "rita"),
        (f"Action item {added['id']} is Jira issue OPS-1", None),
    ]
    written = ok(api.post(f"{base(ref)}/export"))["paths"]
    markdown = Path(next(p for p in written if p.endswith(".md"))).read_text()
    assert (
        "| short-term | Alert on pool saturation | alice | 2026-03-20 | open | OPS-1 |" in markdown
    )

    assert runtime.engine.run_once() == 0  # nothing left: one issue, one create
    assert len(jira.writes()) == 1


def test_a_restricted_incidents_title_stays_out_of_jira(
    runtime: Runtime, api: TestClient, jira: JiraServer
) -> None:
    ref = resolved(api, "Card data exposed", visibility="restricted")
    add(api, ref, create_jira=True)
    runtime.engine.run_once()
    (issue,) = jira.issues.values()
    assert "Card data exposed" not in issue.fields["description"]
    assert f"postmortem of {ref}: (restricted)" in issue.fields["description"]


def test_auto_create(runtime: Runtime, api: TestClient, jira: JiraServer) -> None:
    runtime.config_value = jira_config(jira.url, auto_create=True)
    ref = resolved(api)
    automatic = add(api, ref, title="Automatic")
    refused = add(api, ref, title="Not in Jira", create_jira=False)
    linked = add(api, ref, title="Already tracked", jira_key="OPS-77")
    runtime.engine.run_once()
    assert [i.fields["summary"] for i in jira.issues.values()] == ["Automatic"]
    assert item(runtime, automatic["id"]).jira_key == "OPS-1"
    assert item(runtime, refused["id"]).jira_key is None
    assert item(runtime, linked["id"]).jira_key == "OPS-77"


def test_the_recording_fake_gets_the_ticket(runtime: Runtime, api: TestClient) -> None:
    tracker = FakeTracker()
    runtime.adapters_override = Adapters(tracker=tracker)
    ref = resolved(api)
    item_id = add(api, ref, create_jira=True, status="done", due_date="2026-03-20")["id"]
    patch(api, item_id, owner="bob")
    runtime.engine.run_once()
    (created, updated) = tracker.calls
    ticket = created[1]["ticket"]
    assert (ticket.ref, ticket.status, ticket.due_date) == (
        f"action-{item_id}",
        "done",
        date(2026, 3, 20),
    )
    assert created[1]["key"] == f"jira:item{item_id}:create"
    assert updated[1]["issue"] == "FAKE-1" and updated[1]["changes"] == {"owner": "bob"}
    assert tracker.issues["FAKE-1"].owner == "bob"
    assert item(runtime, item_id).jira_key == "FAKE-1"


def test_no_issue_unless_asked(runtime: Runtime, api: TestClient, jira: JiraServer) -> None:
    ref = resolved(api)
    added = add(api, ref)
    patch(api, added["id"], title="Renamed", status="done")
    runtime.engine.run_once()
    assert tracker_rows(runtime) == [] and jira.requests == []


# -- keeping in step ---------------------------------------------------------------------------


def test_changes_update_the_issue(runtime: Runtime, api: TestClient, jira: JiraServer) -> None:
    ref = resolved(api)
    item_id = add(api, ref, create_jira=True, owner="alice", due_date="2026-03-20")["id"]
    runtime.engine.run_once()
    issue = jira.issues["OPS-1"]

    patch(api, item_id, title="Alert at 80% pool use", due_date="2026-04-01", owner=None)
    runtime.engine.run_once()
    put = jira.writes()[-1]
    assert (put.method, put.path) == ("PUT", "/rest/api/2/issue/OPS-1")
    assert put.body == {
        "fields": {"summary": "Alert at 80% pool use", "duedate": "2026-04-01", "assignee": None}
    }
    assert issue.fields["summary"] == "Alert at 80% pool use"

    before = len(jira.requests)
    patch(api, item_id, kind="long_term")  # not something Jira holds
    runtime.engine.run_once()
    assert len(jira.requests) == before

    for status, jira_status in (("done", "Done"), ("wontfix", "Won't Do"), ("open", "To Do")):
        patch(api, item_id, status=status)
        runtime.engine.run_once()
        assert issue.status == jira_status
    assert issue.history == ["To Do", "Done", "Won't Do", "To Do"]
    assert {r.status for r in tracker_rows(runtime)} == {"sent"}
    assert len(jira.issues) == 1


def test_changes_queued_before_the_create_follow_it(
    runtime: Runtime, api: TestClient, jira: JiraServer
) -> None:
    ref = resolved(api)
    item_id = add(api, ref, create_jira=True)["id"]
    patch(api, item_id, title="Renamed before Jira heard of it")
    patch(api, item_id, status="done")
    runtime.engine.run_once()

    (issue,) = jira.issues.values()
    assert issue.fields["summary"] == "Renamed before Jira heard of it"
    assert issue.history == ["To Do", "Done"]
    rows = tracker_rows(runtime)
    assert [(r.action, r.status) for r in rows] == [
        ("create", "sent"),
        ("update", "sent"),
        ("update", "sent"),
    ]
    # The create's key reached the updates queued behind it: only the create searched.
    assert all(r.payload["issue"] == "OPS-1" for r in rows[1:])
    assert len([r for r in jira.requests if "search" in r.path]) == 1


def test_jira_503_is_retried_and_makes_exactly_one_issue(
    runtime: Runtime, api: TestClient, jira: JiraServer, clock: FrozenClock
) -> None:
    ref = resolved(api)
    item_id = add(api, ref, create_jira=True)["id"]
    jira.fail(status=503, times=1, retry_after=30, method="POST")
    runtime.engine.run_once()

    (row,) = tracker_rows(runtime)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error == "Jira answered HTTP 503, Retry-After 30: injected failure 503"
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=30)  # Jira's wish honoured
    assert jira.issues == {} and item(runtime, item_id).jira_key is None

    clock.advance(timedelta(minutes=1))
    runtime.engine.run_once()
    assert [i.key for i in jira.issues.values()] == ["OPS-1"]
    # The 503 is answered before the fake records anything; each attempt searched first.
    assert jira.attempts == 4
    assert [(r.method, r.path) for r in jira.requests] == [
        ("GET", "/rest/api/2/search/jql"),
        ("GET", "/rest/api/2/search/jql"),
        ("POST", "/rest/api/2/issue"),
    ]
    assert item(runtime, item_id).jira_key == "OPS-1"
    assert tracker_rows(runtime)[0].status == "sent"


def test_a_lost_answer_does_not_make_a_second_issue(
    runtime: Runtime, api: TestClient, jira: JiraServer, clock: FrozenClock
) -> None:
    runtime.config_value = jira_config(jira.url, timeout=0.3)
    ref = resolved(api)
    item_id = add(api, ref, create_jira=True)["id"]
    # Jira makes the issue, but its answer comes after warroom gave up waiting.
    jira.hang(1.0, times=1, process=True, method="POST")
    runtime.engine.run_once()
    assert tracker_rows(runtime)[0].status == "failed" and len(jira.issues) == 1

    clock.advance(timedelta(minutes=1))
    runtime.engine.run_once()
    assert len(jira.issues) == 1
    assert [r.method for r in jira.requests] == ["GET", "POST", "GET"]  # found, not made again
    assert item(runtime, item_id).jira_key == "OPS-1"


def test_jira_400_is_a_dead_row_with_a_readable_error(
    runtime: Runtime, api: TestClient, jira: JiraServer, tokens: dict[str, str]
) -> None:
    ref = resolved(api)
    jira.hidden.add("duedate")  # the project's create screen has no due date
    item_id = add(api, ref, create_jira=True, due_date="2026-03-20")["id"]
    runtime.engine.run_once()

    (row,) = tracker_rows(runtime)
    assert (row.status, row.attempts) == ("dead", 1)  # a refusal is not retried
    expected = (
        "Jira answered HTTP 400: duedate: Field 'duedate' cannot be set. "
        "It is not on the appropriate screen, or unknown."
    )
    assert row.last_error == expected
    (failed,) = events(runtime, "notification_failed")
    assert expected in failed.text and f"action-item:{item_id}" in failed.text
    assert item(runtime, item_id).jira_key is None and jira.issues == {}

    patch(api, item_id, status="done")  # no issue to keep in step with (yet)
    runtime.engine.run_once()
    assert len(tracker_rows(runtime)) == 1

    # The Jira admin puts the due date on the screen; a warroom admin resends the row. The
    # issue is made as first asked, then brought in step with what changed meanwhile.
    jira.hidden.clear()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    ok(api.post(f"/api/v1/notifications/{row.id}/resend", headers=admin))
    runtime.engine.run_once()
    (issue,) = jira.issues.values()
    assert issue.fields["duedate"] == "2026-03-20" and issue.history == ["To Do", "Done"]
    assert item(runtime, item_id).jira_key == issue.key
    assert [(r.key, r.status) for r in tracker_rows(runtime)] == [
        (f"jira:item{item_id}:create", "sent"),
        (f"jira:item{item_id}:create:sync", "sent"),
    ]

    jira.refuse(
        400, {"errorMessages": ["You do not have permission to create issues."]}, method="POST"
    )
    other = add(api, ref, title="Another", create_jira=True)["id"]
    runtime.engine.run_once()
    dead = tracker_rows(runtime)[-1]
    assert dead.status == "dead" and f"item{other}" in dead.key
    assert dead.last_error == (
        "Jira answered HTTP 400: You do not have permission to create issues."
    )


# -- Jira → warroom ----------------------------------------------------------------------------


def test_the_webhook_marks_the_item_done(
    runtime: Runtime, api: TestClient, client: TestClient, jira: JiraServer
) -> None:
    ref = resolved(api)
    item_id = add(api, ref, create_jira=True)["id"]
    runtime.engine.run_once()
    sent = len(jira.requests)

    # Someone finishes the work in Jira; Jira tells warroom.
    jira.move("OPS-1", "Done")
    answer = signed(client, issue_updated("OPS-1", "Done", "done"))
    assert answer["action_items_updated"] == [item_id]
    assert (answer["accepted"], answer["incidents_opened"]) == (0, [])
    assert item(runtime, item_id).status == "done"
    last = events(runtime, "postmortem")[-1]
    assert (last.text, last.actor, last.source) == (
        f"Action item {item_id} changed: status=done",
        "Bob Ruiz",
        "jira",
    )
    runtime.engine.run_once()
    assert len(jira.requests) == sent  # not sent back to Jira
    assert len(tracker_rows(runtime)) == 1

    # The same delivery again, and an edit that leaves the status alone, change nothing.
    assert signed(client, issue_updated("OPS-1", "Done", "done"))["action_items_updated"] == []
    edit = issue_updated("OPS-1", "To Do", "new", changelog={"items": [{"field": "summary"}]})
    assert signed(client, edit)["action_items_updated"] == []
    assert item(runtime, item_id).status == "done"

    wontfix = signed(client, issue_updated("OPS-1", "Won't Do", "done"))
    assert wontfix["action_items_updated"] == [item_id]
    assert item(runtime, item_id).status == "wontfix"
    assert signed(client, issue_updated("OPS-1", "In Progress", "indeterminate"))[
        "action_items_updated"
    ] == [item_id]
    assert item(runtime, item_id).status == "open"
    assert signed(client, issue_updated("OPS-404", "Done", "done"))["action_items_updated"] == []


def test_warroom_issues_are_not_reports_but_other_issues_still_are(
    runtime: Runtime, client: TestClient, api: TestClient
) -> None:
    ref = resolved(api)
    ours = issue_updated("OPS-1", "To Do", "new", webhookEvent="jira:issue_created")
    assert signed(client, ours)["incidents_opened"] == []
    report = json.loads(Path("tests/fixtures/jira/issue_created.json").read_text())
    assert signed(client, report)["incidents_opened"] == ["INC-2"]
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 2
    assert ref == "INC-1"


# -- refusals ----------------------------------------------------------------------------------


def test_create_jira_without_jira_configured_is_422_and_nothing_is_written(
    runtime: Runtime, api: TestClient
) -> None:
    runtime.config_value = WarroomConfig()
    ref = resolved(api)
    before = counts(runtime)
    response = api.post(
        f"{base(ref)}/action-items",
        json={"kind": "short_term", "title": "Alert", "create_jira": True},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["message"] == (
        "create_jira needs Jira configured: add integrations.jira_issues to warroom.yaml "
        "(docs/integrations/jira.md)"
    )
    assert error["details"] == {"field": "create_jira"}
    assert counts(runtime) == before and tracker_rows(runtime) == []


def test_create_jira_with_a_key_is_422(runtime: Runtime, api: TestClient) -> None:
    ref = resolved(api)
    before = counts(runtime)
    response = api.post(
        f"{base(ref)}/action-items",
        json={"kind": "short_term", "title": "Alert", "create_jira": True, "jira_key": "OPS-3"},
    )
    assert response.status_code == 422, response.text
    assert "not both" in response.json()["error"]["message"]
    assert counts(runtime) == before and tracker_rows(runtime) == []


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "    base_url: https://acme.atlassian.net\n    project: OPS\n",
            ":3: integrations.jira_issues: give email + api_token (Jira Cloud) or token (a Jira "
            "Server/Data Center personal access token)",
        ),
        (
            "    base_url: https://acme.atlassian.net\n    project: OPS\n    token: t\n"
            "    labels: [post mortem]\n",
            ":6: integrations.jira_issues.labels: label 'post mortem' must be 1 to 255 characters "
            "without spaces",
        ),
        (
            "    base_url: https://acme.atlassian.net\n    project: OPS\n    token: t\n"
            "    autocreate: true\n",
            ":6: integrations.jira_issues: unknown field 'autocreate'"
            " — did you mean 'auto_create'?",
        ),
        (
            "    base_url: https://acme.atlassian.net\n    project: OPS\n"
            "    token: env:WARROOM_TEST_UNSET_JIRA_TOKEN\n",
            "environment variable WARROOM_TEST_UNSET_JIRA_TOKEN is not set",
        ),
    ],
)
def test_bad_config_is_refused_with_a_clear_message(
    tmp_path: Path, block: str, expected: str
) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text("integrations:\n  jira_issues:\n" + block)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = "\n".join(caught.value.problems)
    assert expected in problems, problems
    assert str(path) in problems


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_add_and_update_item(
    runtime: Runtime, live_server: str, tokens: dict[str, str], api: TestClient, jira: JiraServer
) -> None:
    ref = resolved(api)
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"], "COLUMNS": "200"}
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(app, ["postmortem", *args], env=env)
        return result.exit_code, result.stdout, result.stderr

    code, out, err = cli(
        "add-item", ref, "--title", "Add a runbook", "--kind", "long-term", "--due", "2026-04-01",
        "--owner", "alice", "--jira",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == [
        f"Action item 1 added to {ref}: Add a runbook",
        "  long-term, open, owner alice, due 2026-04-01",
        "  Jira issue requested; its key shows in `warroom postmortem show` once made",
    ]
    runtime.engine.run_once()
    assert jira.issues["OPS-1"].fields["summary"] == "Add a runbook"

    code, out, _ = cli("update-item", "1", "--status", "done", "--clear", "owner")
    assert code == 0 and out.splitlines()[1] == "  long-term, done, due 2026-04-01, Jira OPS-1"
    runtime.engine.run_once()
    assert jira.issues["OPS-1"].status == "Done"
    assert jira.issues["OPS-1"].fields["assignee"] is None

    code, out, _ = cli("show", ref)
    assert code == 0 and "OPS-1" in out
    code, out, _ = cli("add-item", ref, "--title", "No Jira", "--no-jira", "--json")
    assert code == 0 and json.loads(out)["jira_key"] is None
    runtime.engine.run_once()
    assert len(jira.issues) == 1

    code, _, err = cli("update-item", "1")
    assert code == 1 and "nothing to change" in err
    code, _, err = cli("add-item", ref, "--title", "x", "--due", "soon")
    assert code == 2 and "'soon' is not a date" in err
    code, _, err = cli("add-item", ref, "--title", "x", "--kind", "forever")
    assert code == 2 and "use short-term or long-term" in err
