"""The war board's open action items, a checklist item's owner and the room's action run log,
as a browser without JavaScript uses them: plain forms and server-rendered pages."""

from __future__ import annotations

import re
import sys
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.helpers import PY_EXEC
from tests.web.test_pages import add_user, declare, sign_in
from warroom.config import WarroomConfig
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.models import TimelineEvent
from warroom.mitigation import checklist
from warroom.runtime import Runtime

PY = sys.executable
MARKER = "OTTER-4410"  # in a restricted incident's title and action item: never for outsiders
ADA = Actor(name="ada", source="api", role="admin")
SKIP = "not what this test is about"
NASTY = "<script>alert('run')</script> & <b>bold</b>"


@pytest.fixture
def config() -> WarroomConfig:
    """Four people; an action that fails printing markup to both streams, and one that works."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": n, "name": n.capitalize()} for n in ("rita", "sam", "vic", "ada")],
            "actions": [
                {
                    "name": "purge",
                    "description": "Purge the cache",
                    "command": [
                        *PY_EXEC,
                        "import sys; print(sys.argv[1]); print('stderr ' + sys.argv[1], "
                        "file=sys.stderr); sys.exit(3)",
                        NASTY,
                    ],
                },
                {"name": "hello", "command": [*PY_EXEC, "print('hello there')"]},
            ],
        }
    )


@pytest.fixture
def users(runtime: Runtime) -> None:
    """rita and sam (responders), vic (viewer)."""
    add_user(runtime, "rita", "responder")
    add_user(runtime, "sam", "responder")
    add_user(runtime, "vic", "viewer")


def item_ids(runtime: Runtime, ref: str) -> list[int]:
    """Return the incident's checklist item ids in order."""
    with runtime.db.session() as session:
        return [item.id for item in checklist.items(session, incident=incidents.get(session, ref))]


def owner_of(runtime: Runtime, ref: str, item_id: int) -> str | None:
    """Return the owner of one checklist item."""
    with runtime.db.session() as session:
        incident = incidents.get(session, ref)
        return checklist.find(session, incident=incident, item_id=item_id).owner


def checklist_events(runtime: Runtime, ref: str) -> list[str]:
    """Return the texts of the incident's checklist timeline events."""
    return [e.text for e in runtime.flows.get(ref).timeline if e.kind == "checklist"]


def test_a_checklist_item_is_given_an_owner_by_form(
    client: TestClient, runtime: Runtime, users: None
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Checkout is slow")
    first = item_ids(runtime, "INC-1")[0]
    page = client.get(room).text
    assert f'action="{room}/checklist/{first}/owner"' in page
    assert '<option value="sam" >Sam (sam)</option>' in page  # the configured people
    given = client.post(
        f"{room}/checklist/{first}/owner",
        data={"csrf_token": csrf, "owner": "sam"},
        follow_redirects=False,
    )
    assert given.status_code == 303
    assert given.headers["location"] == f"{room}#check-{first}"
    assert owner_of(runtime, "INC-1", first) == "sam"
    (event,) = checklist_events(runtime, "INC-1")
    assert "assigned to sam" in event
    page = client.get(room).text
    item = page.split(f'id="check-{first}"', 1)[1].split("</li>", 1)[0]
    assert "owner sam" in item and '<option value="sam" selected>' in item
    assert "Change owner" in item
    # Someone not under people: is refused with the reason, and nothing changes.
    refused = client.post(
        f"{room}/checklist/{first}/owner", data={"csrf_token": csrf, "owner": "zed"}
    )
    assert refused.status_code == 422
    assert "zed" in refused.text and 'role="alert"' in refused.text
    assert owner_of(runtime, "INC-1", first) == "sam"
    # "Nobody" takes the owner away; the same again changes (and records) nothing.
    for _ in range(2):
        client.post(f"{room}/checklist/{first}/owner", data={"csrf_token": csrf, "owner": ""})
    assert owner_of(runtime, "INC-1", first) is None
    assert len(checklist_events(runtime, "INC-1")) == 2
    assert "unassigned" in checklist_events(runtime, "INC-1")[-1]
    # The owner's checklist step is on their board.
    client.post(f"{room}/checklist/{first}/owner", data={"csrf_token": csrf, "owner": "rita"})
    board = client.get("/").text
    mine = board.split('id="mine-title"', 1)[1]
    assert '<a href="/incidents/INC-1#checklist">INC-1</a>' in mine


def test_without_people_the_owner_is_a_text_box(
    client: TestClient, runtime: Runtime, users: None
) -> None:
    runtime.config().people.clear()
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Checkout is slow")
    first = item_ids(runtime, "INC-1")[0]
    page = client.get(room).text
    assert f'<input id="owner-{first}" name="owner"' in page
    client.post(f"{room}/checklist/{first}/owner", data={"csrf_token": csrf, "owner": "anyone"})
    assert owner_of(runtime, "INC-1", first) == "anyone"


def test_a_viewer_cannot_assign_an_owner(client: TestClient, runtime: Runtime, users: None) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Checkout is slow")
    first = item_ids(runtime, "INC-1")[0]
    client.cookies.clear()
    viewer = sign_in(client, "vic")
    page = client.get(room).text
    assert "Assign an owner" not in page and "/owner" not in page
    refused = client.post(
        f"{room}/checklist/{first}/owner", data={"csrf_token": viewer, "owner": "vic"}
    )
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert owner_of(runtime, "INC-1", first) is None
    assert checklist_events(runtime, "INC-1") == []


def test_an_outsider_cannot_assign_on_a_restricted_incident(
    client: TestClient, runtime: Runtime, users: None
) -> None:
    breach = runtime.flows.declare(
        actor=ADA, title=f"Keys leaked {MARKER}", incident_type="security", commander="rita"
    )
    first = item_ids(runtime, breach.ref)[0]
    csrf = sign_in(client, "sam")  # a responder, but not let in
    refused = client.post(
        f"/incidents/{breach.ref}/checklist/{first}/owner",
        data={"csrf_token": csrf, "owner": "sam"},
    )
    assert refused.status_code == 404
    assert f"no incident {breach.ref}" in refused.text and MARKER not in refused.text
    assert owner_of(runtime, breach.ref, first) is None


def test_a_closed_incidents_checklist_offers_no_owner_form(
    client: TestClient, runtime: Runtime, users: None
) -> None:
    detail = runtime.flows.declare(actor=ADA, title="Search is slow", severity="SEV-4")
    runtime.flows.transition(detail.ref, "resolve", actor=ADA, skip_verification=SKIP)
    runtime.flows.transition(detail.ref, "close", actor=ADA)  # a SEV-4 owes no postmortem
    first = item_ids(runtime, detail.ref)[0]
    csrf = sign_in(client, "rita")
    assert "Assign an owner" not in client.get(f"/incidents/{detail.ref}").text
    refused = client.post(
        f"/incidents/{detail.ref}/checklist/{first}/owner",
        data={"csrf_token": csrf, "owner": "rita"},
    )
    assert refused.status_code == 409
    assert owner_of(runtime, detail.ref, first) is None


def test_the_run_log_shows_past_runs_newest_first_output_escaped(
    client: TestClient, runtime: Runtime, users: None
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Checkout is slow")
    client.post(f"{room}/actions/hello", data={"csrf_token": csrf})
    failed = client.post(f"{room}/actions/purge", data={"csrf_token": csrf})
    assert failed.status_code == 200 and "failed" in failed.text
    client.cookies.clear()
    sign_in(client, "vic")  # viewers read the log, without the Run buttons
    page = client.get(room).text
    assert "Run purge" not in page
    log = page.split('id="runs-title"', 1)[1].split("</section>", 1)[0]
    runs = re.findall(r'<li id="run-(\d+)">', log)
    assert len(runs) == 2 and int(runs[0]) > int(runs[1])  # newest first
    newest = log.split("</li>", 1)[0]
    assert "<strong>purge</strong>" in newest and "failed" in newest
    assert "exit code 3" in newest and "by rita" in newest and "took " in newest
    assert "<details" in newest and '<pre class="log">' in newest
    assert "Ran <code>" in newest and "sys.exit(3)&#39; &#39;&lt;script&gt;" in newest  # quoted
    escaped = "&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
    assert escaped in newest and f"stderr {escaped}" in newest
    assert "<script>alert" not in page and "<b>bold</b>" not in page
    assert "hello there" in log.split("</li>", 1)[1] and "succeeded" in log


def test_the_run_log_is_capped(client: TestClient, runtime: Runtime, users: None) -> None:
    detail = runtime.flows.declare(actor=ADA, title="Checkout is slow")
    with runtime.db.transaction() as session:
        incident = incidents.get(session, detail.ref)
        for number in range(25):
            data = {"action": "hello", "ok": True, "duration_ms": 5, "stdout": f"run {number}"}
            timeline.record(
                session, incident=incident, kind="action", text=f"Action hello {number}",
                at=runtime.clock.now(), actor="rita", source="api", data=data,
            )  # fmt: skip
    sign_in(client, "vic")
    page = client.get(f"/incidents/{detail.ref}").text
    log = page.split('id="runs-title"', 1)[1].split("</section>", 1)[0]
    assert log.count('<li id="run-') == 20 and "the last 20" in log
    assert ">run 24</pre>" in log and ">run 5</pre>" in log and ">run 4</pre>" not in log
    with runtime.db.session() as session:
        stmt = select(TimelineEvent).where(TimelineEvent.kind == "action")
        assert len(session.scalars(stmt).all()) == 25


def add_action_item(runtime: Runtime, ref: str, title: str, **values: object) -> int:
    """Add an action item to the incident's postmortem; return its id."""
    out = runtime.postmortems.add_item(
        ref,
        actor=ADA,
        values={"kind": "short_term", "title": title, **values},
        create_jira=None,
    )
    return out.id


def test_the_board_lists_my_open_action_items_overdue_marked(
    client: TestClient, runtime: Runtime, users: None
) -> None:
    detail = runtime.flows.declare(actor=ADA, title="Checkout is slow", severity="SEV-2")
    runtime.flows.transition(detail.ref, "resolve", actor=ADA, skip_verification=SKIP)
    today = runtime.clock.now().date()
    late = add_action_item(
        runtime, detail.ref, "Add a canary", owner="rita", due_date=today - timedelta(days=2)
    )
    soon = add_action_item(
        runtime, detail.ref, "Write the rollback drill", owner="rita",
        due_date=today + timedelta(days=5), kind="long_term",
    )  # fmt: skip
    undated = add_action_item(runtime, detail.ref, "Tidy the dashboards", owner="rita")
    add_action_item(runtime, detail.ref, "Someone else's work", owner="sam")
    finished = add_action_item(runtime, detail.ref, "Already done", owner="rita")
    runtime.postmortems.change_item(
        finished, actor=ADA, access=ADA.access, changes={"status": "done"}
    )
    sign_in(client, "rita")
    board = client.get("/").text
    mine = board.split('id="mine-items-title"', 1)[1].split("</section>", 1)[0]
    links = re.findall(r'href="/incidents/INC-1/postmortem#item-(\d+)"', mine)
    assert [int(found) for found in links] == [late, soon, undated]  # soonest due first
    assert "Someone else" not in mine and "Already done" not in mine
    rows = mine.split("</li>")
    assert f'<time datetime="{(today - timedelta(days=2)).isoformat()}">' in rows[0]
    assert "overdue" in rows[0] and "⚠" in rows[0]  # a word and an icon, not colour alone
    assert "overdue" not in rows[1] and "long-term" in rows[1]
    assert "no due date" in rows[2] and "overdue" not in rows[2]


def test_an_outsider_never_sees_a_restricted_incidents_action_item(
    client: TestClient, runtime: Runtime, users: None
) -> None:
    breach = runtime.flows.declare(
        actor=ADA, title=f"Keys leaked {MARKER}", incident_type="security", commander="rita"
    )
    runtime.flows.transition(breach.ref, "resolve", actor=ADA, skip_verification=SKIP)
    # Owned by vic, who is not let in: it stays off vic's board all the same.
    add_action_item(runtime, breach.ref, f"Rotate the keys {MARKER}", owner="vic")
    sign_in(client, "vic")
    board = client.get("/")
    assert board.status_code == 200
    assert MARKER not in board.text and breach.ref not in board.text
    assert "No action item of yours is open." in board.text
    runtime.flows.grant(breach.ref, actor=ADA, access=ADA.access, person="vic", reason="owner")
    assert f"Rotate the keys {MARKER}" in client.get("/").text
