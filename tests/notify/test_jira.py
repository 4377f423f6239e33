"""The Jira issues client, over a real socket to a loopback fake of Jira's REST API v2."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import free_port
from tests.notify.jira_server import API_TOKEN, EMAIL, PAT, JiraServer
from warroom.notify.jira import JiraIssues
from warroom.notify.jira_config import JiraIssuesConfig, item_status
from warroom.notify.ports import DeliveryError, Ticket, TicketTracker

ALICE = "5b10ac8d82e05b22cc7d4ef5"


def make_config(url: str, deployment: str = "cloud", **overrides: Any) -> JiraIssuesConfig:
    auth: dict[str, Any] = (
        {"email": EMAIL, "api_token": API_TOKEN} if deployment == "cloud" else {"token": PAT}
    )
    data = {
        "base_url": url,
        "deployment": deployment,
        "project": "OPS",
        "assignees": {"alice": ALICE if deployment == "cloud" else "alice"},
        "timeout": 10,
        **auth,
    }
    return JiraIssuesConfig.model_validate({**data, **overrides})


@pytest.fixture
def server() -> Iterator[JiraServer]:
    with JiraServer() as fake:
        yield fake


@pytest.fixture
def jira(server: JiraServer) -> Iterator[JiraIssues]:
    with JiraIssues(make_config(server.url)) as client:
        yield client


def ticket(**overrides: Any) -> Ticket:
    values: dict[str, Any] = {
        "ref": "action-12",
        "summary": "Alert on connection pool saturation",
        "description": "Action item from the postmortem of INC-42",
        "due_date": date(2026, 3, 20),
        "owner": "alice",
        "status": "open",
    }
    return Ticket(**{**values, **overrides})


def test_the_client_is_a_ticket_tracker(jira: JiraIssues) -> None:
    tracker: TicketTracker = jira
    assert tracker is jira


def test_create_sends_the_documented_request(server: JiraServer, jira: JiraIssues) -> None:
    key = jira.create_issue(ticket=ticket(), key="jira:item12:create")

    assert key == "OPS-1"
    search, create = server.requests  # no issue has the item's label yet
    assert (search.method, search.path) == ("GET", "/rest/api/2/search/jql")
    assert search.query["jql"] == [
        'project = "OPS" AND labels = "warroom-action-12" ORDER BY created ASC'
    ]
    assert (create.method, create.path) == ("POST", "/rest/api/2/issue")
    basic = base64.b64encode(f"{EMAIL}:{API_TOKEN}".encode()).decode()
    assert create.headers["authorization"] == f"Basic {basic}"
    assert create.headers["content-type"] == "application/json"
    assert create.body == {
        "fields": {
            "project": {"key": "OPS"},
            "summary": "Alert on connection pool saturation",
            "description": "Action item from the postmortem of INC-42",
            "issuetype": {"name": "Task"},
            "labels": ["warroom", "postmortem", "warroom-action-12"],
            "duedate": "2026-03-20",
            "assignee": {"accountId": ALICE},
        }
    }
    assert server.issues["OPS-1"].status == "To Do"


def test_server_uses_a_bearer_token_and_user_names() -> None:
    with JiraServer("server") as server, JiraIssues(make_config(server.url, "server")) as jira:
        key = jira.create_issue(ticket=ticket(), key="k")
        assert {r.headers["authorization"] for r in server.requests} == {f"Bearer {PAT}"}
        assert server.issues[key].fields["assignee"] == {"name": "alice"}


def test_an_unmapped_owner_and_no_due_date_leave_the_fields_out(
    server: JiraServer, jira: JiraIssues
) -> None:
    jira.create_issue(ticket=ticket(owner="zed", due_date=None), key="k")
    fields = server.requests[-1].body["fields"]
    assert "assignee" not in fields and "duedate" not in fields


def test_an_item_created_done_is_moved_to_done(server: JiraServer, jira: JiraIssues) -> None:
    key = jira.create_issue(ticket=ticket(status="done"), key="k")
    assert server.issues[key].history == ["To Do", "Done"]
    assert [r.path for r in server.writes()][-1] == f"/rest/api/2/issue/{key}/transitions"


@pytest.mark.parametrize("deployment", ["cloud", "server"])
def test_a_retried_create_finds_the_issue_an_earlier_attempt_made(deployment: str) -> None:
    with JiraServer(deployment) as server, JiraIssues(make_config(server.url, deployment)) as jira:
        first = jira.create_issue(ticket=ticket(), key="k")
        again = jira.create_issue(ticket=ticket(), key="k")
        assert again == first and len(server.issues) == 1
        expected = "/rest/api/2/search/jql" if deployment == "cloud" else "/rest/api/2/search"
        assert [(r.method, r.path) for r in server.requests] == [
            ("GET", expected),
            ("POST", "/rest/api/2/issue"),
            ("GET", expected),  # found: no second POST
        ]


def test_another_items_issue_is_not_taken_for_this_one(
    server: JiraServer, jira: JiraIssues
) -> None:
    other = jira.create_issue(ticket=ticket(ref="action-7"), key="k7")
    key = jira.create_issue(ticket=ticket(), key="k12")
    assert key != other
    assert [i.key for i in server.labelled("warroom-action-12")] == [key]


def test_an_issue_of_another_project_with_the_same_label_is_not_taken(
    server: JiraServer, jira: JiraIssues
) -> None:
    # Another warroom (staging, say) files its item 12 in its own project, same label.
    server.projects["STAGE"] = set(server.projects[next(iter(server.projects))])
    staging = JiraIssues(make_config(server.url, project="STAGE"))
    theirs = staging.create_issue(ticket=ticket(), key="k-staging")
    staging.close()
    ours = jira.create_issue(ticket=ticket(), key="k12")
    assert theirs.startswith("STAGE-") and not ours.startswith("STAGE-")
    assert sorted(i.key for i in server.labelled("warroom-action-12")) == sorted([theirs, ours])
    searches = [r.query for r in server.requests if r.method == "GET" and "search" in r.path]
    assert searches and all('project = "' in q["jql"][0] for q in searches)


def test_a_cloud_site_on_its_own_domain_falls_back_from_the_removed_search(
    server: JiraServer,
) -> None:
    # Configured as Server (no atlassian.net host), but the site is Atlassian's cloud.
    config = make_config(server.url, "server", token=None, email=EMAIL, api_token=API_TOKEN)
    with JiraIssues(config) as jira:
        first = jira.create_issue(ticket=ticket(owner=None), key="k")
        assert jira.create_issue(ticket=ticket(owner=None), key="k") == first
    paths = [r.path for r in server.requests if r.method == "GET"]
    # The removed search answers 410 once; from then on the client uses the new one.
    assert paths == ["/rest/api/2/search", "/rest/api/2/search/jql", "/rest/api/2/search/jql"]


# -- updates ---------------------------------------------------------------------------------


def test_update_sends_only_what_changed(server: JiraServer, jira: JiraIssues) -> None:
    key = jira.create_issue(ticket=ticket(), key="k")
    jira.update_issue(issue=key, ref="action-12", changes={"summary": "Alert sooner"}, key="u1")
    put = server.requests[-1]
    assert (put.method, put.path, put.body) == (
        "PUT",
        f"/rest/api/2/issue/{key}",
        {"fields": {"summary": "Alert sooner"}},
    )
    jira.update_issue(
        issue=key, ref="action-12", changes={"due_date": None, "owner": None}, key="u2"
    )
    assert server.requests[-1].body == {"fields": {"duedate": None, "assignee": None}}
    assert server.issues[key].fields["summary"] == "Alert sooner"
    assert server.issues[key].fields["assignee"] is None


def test_an_owner_without_a_jira_user_sends_nothing(server: JiraServer, jira: JiraIssues) -> None:
    key = jira.create_issue(ticket=ticket(), key="k")
    before = len(server.requests)
    jira.update_issue(issue=key, ref="action-12", changes={"owner": "zed"}, key="u")
    assert len(server.requests) == before
    assert server.issues[key].fields["assignee"] == {"accountId": ALICE}


@pytest.mark.parametrize(
    ("status", "jira_status"), [("done", "Done"), ("wontfix", "Won't Do"), ("open", "To Do")]
)
def test_status_changes_go_through_transitions(
    server: JiraServer, jira: JiraIssues, status: str, jira_status: str
) -> None:
    key = jira.create_issue(ticket=ticket(), key="k")
    server.move(key, "In Progress" if status == "open" else "To Do")
    if status == "open":
        server.move(key, "Done")
    jira.update_issue(issue=key, ref="action-12", changes={"status": status}, key="u")
    assert server.issues[key].status == jira_status
    post = server.requests[-1]
    assert post.path == f"/rest/api/2/issue/{key}/transitions"
    assert post.body == {
        "transition": {"id": {"To Do": "11", "Done": "31", "Won't Do": "41"}[jira_status]}
    }


def test_an_issue_already_in_step_is_not_moved(server: JiraServer, jira: JiraIssues) -> None:
    key = jira.create_issue(ticket=ticket(), key="k")
    server.move(key, "Done")
    jira.update_issue(issue=key, ref="action-12", changes={"status": "done"}, key="u")
    server.move(key, "In Progress")  # counts as open
    jira.update_issue(issue=key, ref="action-12", changes={"status": "open"}, key="u2")
    assert server.issues[key].history == ["To Do", "Done", "In Progress"]
    assert [r.method for r in server.requests[2:]] == ["GET", "GET"]  # status reads only


def test_a_transition_is_found_by_its_target_status(server: JiraServer) -> None:
    # A classic workflow: the transition is "Close Issue", the status it leads to "Closed".
    server.workflow = {"Open": "new", "Closed": "done"}
    config = make_config(server.url, transitions={"done": "Closed", "open": "Open"})
    with JiraIssues(config) as jira:
        key = jira.create_issue(ticket=ticket(), key="k")
        jira.update_issue(issue=key, ref="action-12", changes={"status": "done"}, key="u")
    assert server.issues[key].status == "Closed"


def test_a_missing_transition_is_permanent_and_says_what_is_offered(
    server: JiraServer, jira: JiraIssues
) -> None:
    key = jira.create_issue(ticket=ticket(), key="k")
    del server.workflow["Won't Do"]
    with pytest.raises(DeliveryError) as caught:
        jira.update_issue(issue=key, ref="action-12", changes={"status": "wontfix"}, key="u")
    assert caught.value.permanent
    message = str(caught.value)
    assert "Jira offers no transition \"Won't Do\" for OPS-1 in status 'To Do'" in message
    assert "offered: 'In Progress', 'Done'" in message
    assert "jira_issues.transitions.wontfix" in message


def test_an_update_without_a_key_finds_the_issue_by_label(
    server: JiraServer, jira: JiraIssues
) -> None:
    key = jira.create_issue(ticket=ticket(), key="k")
    found = jira.update_issue(issue=None, ref="action-12", changes={"summary": "New"}, key="u")
    assert found == key and server.issues[key].fields["summary"] == "New"
    with pytest.raises(DeliveryError, match="no Jira issue has the label warroom-action-9") as e:
        jira.update_issue(issue=None, ref="action-9", changes={"summary": "x"}, key="u")
    assert e.value.permanent


# -- failures ----------------------------------------------------------------------------------


def test_field_errors_are_permanent_and_readable(server: JiraServer, jira: JiraIssues) -> None:
    server.hidden.add("duedate")
    with pytest.raises(DeliveryError) as caught:
        jira.create_issue(ticket=ticket(), key="k")
    assert caught.value.permanent
    assert str(caught.value) == (
        "Jira answered HTTP 400: duedate: Field 'duedate' cannot be set. "
        "It is not on the appropriate screen, or unknown."
    )
    assert server.issues == {}


def test_error_messages_are_joined(server: JiraServer, jira: JiraIssues) -> None:
    body = {"errorMessages": ["Project is archived.", "Ask an admin."], "errors": {"a": "b"}}
    server.refuse(400, body, method="POST")
    with pytest.raises(DeliveryError) as caught:
        jira.create_issue(ticket=ticket(), key="k")
    assert str(caught.value) == "Jira answered HTTP 400: Project is archived.; Ask an admin.; a: b"


def test_an_unknown_issue_type_is_permanent(server: JiraServer) -> None:
    config = make_config(server.url, issue_type="Epic")
    with JiraIssues(config) as jira, pytest.raises(DeliveryError, match="issuetype: Spec") as e:
        jira.create_issue(ticket=ticket(), key="k")
    assert e.value.permanent


def test_wrong_credentials_are_permanent_and_not_quoted(server: JiraServer) -> None:
    config = make_config(server.url, api_token="wrong-token-123")
    with JiraIssues(config) as jira, pytest.raises(DeliveryError, match="HTTP 401") as caught:
        jira.create_issue(ticket=ticket(), key="k")
    assert caught.value.permanent
    assert "wrong-token-123" not in str(caught.value) and API_TOKEN not in str(caught.value)


def test_a_deleted_issue_is_permanent(jira: JiraIssues) -> None:
    with pytest.raises(DeliveryError, match="HTTP 404: Issue does not exist") as caught:
        jira.update_issue(issue="OPS-99", ref="action-12", changes={"summary": "x"}, key="u")
    assert caught.value.permanent


@pytest.mark.parametrize(("status", "retry_after"), [(503, 30), (500, None), (429, 5)])
def test_temporary_failures_carry_retry_after(
    server: JiraServer, jira: JiraIssues, status: int, retry_after: int | None
) -> None:
    server.fail(status=status, times=1, retry_after=retry_after)
    with pytest.raises(DeliveryError) as caught:
        jira.create_issue(ticket=ticket(), key="k")
    assert not caught.value.permanent
    assert caught.value.retry_after == retry_after
    assert f"HTTP {status}" in str(caught.value) and server.issues == {}
    jira.create_issue(ticket=ticket(), key="k")  # the outbox's retry
    assert len(server.issues) == 1


def test_a_hanging_jira_is_a_temporary_timeout(server: JiraServer) -> None:
    server.hang(5.0)
    config = make_config(server.url, timeout=0.2)
    with JiraIssues(config) as jira, pytest.raises(DeliveryError, match=r"within 0\.2 s") as caught:
        jira.create_issue(ticket=ticket(), key="k")
    server.recover()
    assert not caught.value.permanent


def test_nothing_listening_is_temporary() -> None:
    config = make_config(f"http://127.0.0.1:{free_port()}")
    with (
        JiraIssues(config) as jira,
        pytest.raises(DeliveryError, match="could not reach") as caught,
    ):
        jira.create_issue(ticket=ticket(), key="k")
    assert not caught.value.permanent


# -- configuration ---------------------------------------------------------------------------


def test_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIRA_TOKEN", API_TOKEN)
    config = JiraIssuesConfig.model_validate(
        {
            "base_url": "https://acme.atlassian.net/",
            "email": EMAIL,
            "api_token": "env:JIRA_TOKEN",
            "project": "OPS",
            "transitions": {"done": "Close Issue"},
        }
    )
    assert config.base_url == "https://acme.atlassian.net" and config.deployment == "cloud"
    assert config.api_token is not None and config.api_token.get_secret_value() == API_TOKEN
    assert (config.issue_type, config.labels, config.auto_create) == (
        "Task",
        ["warroom", "postmortem"],
        False,
    )
    assert config.transitions == {"open": "To Do", "done": "Close Issue", "wontfix": "Won't Do"}
    assert config.timeout == 10.0 and API_TOKEN not in repr(config)
    server = JiraIssuesConfig.model_validate(
        {"base_url": "https://jira.example.com/jira", "token": PAT, "project": "OPS"}
    )
    assert server.deployment == "server" and server.base_url == "https://jira.example.com/jira"


def test_status_mapping() -> None:
    assert item_status("Done", "done") == "done"
    assert item_status("Won't Do", "done") == "wontfix"
    assert item_status("won't fix", "done") == "wontfix"
    assert item_status("In Progress", "indeterminate") == "open"
    assert item_status("Shipped", None, {"Shipped": "done"}) == "done"
    assert item_status(None, None) == "open"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"token": None, "email": None, "api_token": None}, "give email + api_token"),
        ({"token": PAT}, "not both"),
        ({"api_token": None}, "email needs api_token"),
        ({"email": None}, "api_token needs email"),
        ({"base_url": "http://jira.example.com"}, "must be https://"),
        ({"base_url": "https://acme.atlassian.net/rest/api/2"}, "the site alone"),
        ({"project": "ops"}, "project"),
        ({"labels": ["post mortem"]}, "without spaces"),
        ({"labels": ["warroom-action-1"]}, "warroom's own"),
        ({"transitions": {"closed": "Close"}}, "transitions.closed"),
        ({"statuses": {"Shipped": "finished"}}, "statuses.Shipped"),
        ({"api_token": ""}, "must not be empty"),
        ({"timeout": 0}, "timeout"),
        ({"auto_creat": True}, "auto_creat"),
    ],
)
def test_config_refuses_bad_input(override: dict[str, Any], message: str) -> None:
    data = {
        "base_url": "https://acme.atlassian.net",
        "email": EMAIL,
        "api_token": API_TOKEN,
        "project": "OPS",
    }
    with pytest.raises(ValidationError) as caught:
        JiraIssuesConfig.model_validate({**data, **override})
    assert message in str(caught.value) and API_TOKEN not in str(caught.value)
