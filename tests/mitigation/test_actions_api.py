"""Running actions over HTTP on both databases: results, timeline, and every refusal."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.helpers import SKIP
from tests.mitigation.conftest import ENV_SECRET, TOKEN, IdentityApi, declare
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.incidents.models import TimelineEvent
from warroom.mitigation.actions import ActionConfig
from warroom.runtime import Runtime


def run(api: TestClient, name: str, ref: str = "INC-1", **body: Any) -> Any:
    return api.post(f"/api/v1/incidents/{ref}/actions/{name}", json=body)


@dataclass
class Event:
    id: int
    actor: str | None
    text: str
    data: dict[str, Any]


def action_events(runtime: Runtime) -> list[Event]:
    """Return the `action` timeline events, oldest first."""
    with runtime.db.session() as session:
        stmt = select(TimelineEvent).where(TimelineEvent.kind == "action")
        rows = session.scalars(stmt.order_by(TimelineEvent.id))
        return [Event(row.id, row.actor, row.text, dict(row.data)) for row in rows]


def event_count(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(TimelineEvent)) or 0)


def test_list_shows_actions_without_secrets(runtime: Runtime, api: TestClient) -> None:
    answer = api.get("/api/v1/actions")
    assert answer.status_code == 200
    items = {item["name"]: item for item in answer.json()["items"]}
    assert items["rollback"]["dangerous"] is True and items["rollback"]["type"] == "command"
    assert items["disable-account"]["params"] == [
        {
            "name": "user",
            "pattern": "[a-z][a-z0-9._-]{0,63}",
            "required": True,
            "description": "login",
        }
    ]
    assert items["secret"]["allowed_roles"] == ["admin"]
    assert items["slow"]["timeout"] == 1
    assert ENV_SECRET not in answer.text and TOKEN not in answer.text


def test_command_output_and_timeline_event(runtime: Runtime, api: TestClient) -> None:
    ref = declare(runtime)
    answer = run(api, "echo", params={"text": "hello world"})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["ok"] is True and result["exit_code"] == 0 and not result["timed_out"]
    assert result["stdout"] == f"['{ref}', 'hello world']\n"
    assert result["command"][-2:] == [ref, "hello world"]
    (event,) = action_events(runtime)
    assert result["event_id"] == event.id
    assert event.actor == "rita" and event.text.startswith("Action echo succeeded: exit code 0")
    assert event.data["stdout"] == result["stdout"] and event.data["params"] == {
        "text": "hello world"
    }
    assert event.data["exit_code"] == 0 and event.data["duration_ms"] >= 0
    # The runbook file is re-rendered with the new event.
    active = next((runtime.settings.runbooks_dir / "active").glob("*.md")).read_text()
    assert "Action echo succeeded" in active


def test_no_shell_ever_sees_params(runtime: Runtime, api: TestClient, tmp_path: Path) -> None:
    declare(runtime)
    target = tmp_path / "pwned"
    text = f"x; touch {target} && echo $HOME `id` | cat"
    result = run(api, "echo", params={"text": text}).json()
    assert result["ok"] and result["stdout"] == f"['INC-1', {text!r}]\n"
    assert not target.exists()


def test_failed_command_is_200_with_ok_false(runtime: Runtime, api: TestClient) -> None:
    declare(runtime)
    result = run(api, "fail").json()
    assert (result["ok"], result["exit_code"], result["stderr"]) == (False, 3, "oops\n")
    assert action_events(runtime)[0].text.startswith("Action fail failed: exit code 3")


def test_output_is_capped_with_a_marker(runtime: Runtime, api: TestClient) -> None:
    declare(runtime)
    result = run(api, "chatty").json()
    assert result["ok"] and result["truncated"] is True
    assert result["stdout"].startswith("a" * 8192) and result["stdout"].endswith("aaaEND")
    assert "[truncated: 83619 bytes not kept]" in result["stdout"]
    assert len(result["stdout"]) < 17_000
    assert action_events(runtime)[0].data["truncated"] is True


def test_timeout_kills_the_process_group(runtime: Runtime, api: TestClient, tmp_path: Path) -> None:
    declare(runtime)
    started = time.monotonic()
    answer = run(api, "slow")
    assert time.monotonic() - started < 6
    assert answer.status_code == 424, answer.text
    error = answer.json()["error"]
    assert error["code"] == "action_timed_out"
    assert error["message"].startswith("action slow on INC-1 timed out after ")
    result = error["details"]
    assert result["ok"] is False and result["timed_out"] is True
    assert result["stdout"] == "started\n" and "process group was killed" in result["error"]
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    for _ in range(50):  # killed; reaped by init shortly after
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        try:
            if Path(f"/proc/{grandchild}/stat").read_text().split()[2] == "Z":
                break  # a zombie: dead, waiting for its parent to be reaped
        except FileNotFoundError:
            break  # reaped between the two looks
        time.sleep(0.05)
    else:
        pytest.fail("the grandchild outlived the timeout")
    (event,) = action_events(runtime)
    assert event.data["timed_out"] is True and "timed out" in event.text


def test_secrets_are_redacted_and_roles_checked(
    runtime: Runtime, api: TestClient, tokens: dict[str, str]
) -> None:
    declare(runtime)
    refused = run(api, "secret")
    assert refused.status_code == 403, refused.text
    assert "may be run by admin; you are a responder" in refused.json()["error"]["message"]
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    path = "/api/v1/incidents/INC-1/actions/echo"
    assert api.post(path, json={"params": {"text": "x"}}, headers=viewer).status_code == 403
    result = api.post("/api/v1/incidents/INC-1/actions/secret", json={}, headers=admin).json()
    assert result["ok"] and result["stdout"] == "key is [redacted]\n"
    (event,) = action_events(runtime)
    assert ENV_SECRET not in str(event.data) and event.data["env"] == ["DEPLOY_KEY"]
    assert event.actor == "ada"


def test_http_action_success(runtime: Runtime, api: TestClient, identity_api: IdentityApi) -> None:
    declare(runtime)
    result = run(api, "disable-account", params={"user": "mallory"}, confirm=True).json()
    assert result["ok"] is True and result["status_code"] == 200, result
    (seen,) = identity_api.requests
    assert seen.path == "/users/mallory/disable"
    assert seen.body == {"reason": "incident INC-1", "user": "mallory"}
    assert result["request"] == f"POST {identity_api.url}/users/mallory/disable"
    # The API echoes the token back: the answer and the timeline keep it redacted.
    assert TOKEN not in result["body"] and "[redacted]" in result["body"]
    (event,) = action_events(runtime)
    assert TOKEN not in str(event.data) and event.data["headers"] == ["Authorization"]
    assert event.text.startswith("Action disable-account succeeded: HTTP 200")


def test_http_optional_param_default_and_error_status(
    runtime: Runtime, api: TestClient, identity_api: IdentityApi
) -> None:
    declare(runtime)
    identity_api.mode = "fail"
    result = run(api, "disable-feature").json()
    assert (result["ok"], result["status_code"]) == (False, 503)
    assert "identity store unavailable" in result["body"]
    assert result["error"] == "unexpected HTTP status 503"
    assert identity_api.requests[0].path == "/flags/new-checkout"
    assert action_events(runtime)[0].text.startswith("Action disable-feature failed: HTTP 503")


def test_http_timeout(runtime: Runtime, api: TestClient, identity_api: IdentityApi) -> None:
    declare(runtime)
    identity_api.mode = "hang"
    answer = run(api, "disable-feature", params={"flag": "search"})
    assert answer.status_code == 424, answer.text
    result = answer.json()["error"]["details"]
    assert result["ok"] is False and result["timed_out"] is True
    assert result["status_code"] is None and "within 1s" in result["error"]
    assert action_events(runtime)[0].data["timed_out"] is True


def test_http_param_is_url_encoded(
    runtime: Runtime, api: TestClient, identity_api: IdentityApi, config: WarroomConfig
) -> None:
    declare(runtime)
    # The pattern allows '.', never '/': a path cannot be smuggled into the URL.
    bad = run(api, "disable-account", params={"user": "../admin"}, confirm=True)
    assert bad.status_code == 422
    assert "param 'user': '../admin' does not match" in bad.json()["error"]["message"]
    assert identity_api.requests == []
    # Where a pattern lets them through, reserved characters are percent-encoded in the URL:
    # the value stays one path segment (no '/', '?' or '#' of its own); the JSON keeps it as is.
    lookup = {
        "name": "lookup",
        "http": {
            "url": identity_api.url + "/users/{user}/disable",
            "bearer_token": TOKEN,
            "json": {"user": "{user}"},
            "timeout": 1,
        },
        "params": {"user": {"pattern": ".{1,64}"}},
    }
    config.actions.append(ActionConfig.model_validate(lookup))
    value = "..a b?c=1&d#e é"
    result = run(api, "lookup", params={"user": value}).json()
    assert result["ok"] is True, result
    (seen,) = identity_api.requests
    assert seen.path == "/users/..a%20b%3Fc%3D1%26d%23e%20%C3%A9/disable"
    assert seen.body == {"user": value}
    assert result["request"] == f"POST {identity_api.url}{seen.path}"
    # A whole value of `.` or `..` would stay as is and climb out of the path: refused.
    for step in (".", ".."):
        refused = run(api, "lookup", params={"user": step})
        assert refused.status_code == 422
        assert f"{step!r} is a path step, not a value" in refused.json()["error"]["message"]
    assert len(identity_api.requests) == 1


@pytest.mark.parametrize(
    ("name", "body", "status", "words"),
    [
        ("nope", {}, 404, "no action 'nope'; configured: echo, rollback"),
        ("echo", {}, 422, "param 'text' is required"),
        ("echo", {"params": {"text": ""}}, 422, "param 'text': '' does not match '.{1,200}'"),
        ("echo", {"params": {"text": "x", "extra": "y"}}, 422, "has no param 'extra'"),
        ("echo", {"params": {"text": 5}}, 422, "params.text"),
        ("echo", {"params": {"text": "x"}, "run_as": "root"}, 422, "run_as"),
        ("disable-account", {"params": {"user": "Mallory!"}, "confirm": True}, 422, "'user'"),
        ("disable-account", {"params": {"user": "mallory"}}, 409, "marked dangerous"),
        ("rollback", {"confirm": False}, 409, "confirm"),
    ],
)
def test_refusals_write_nothing(
    runtime: Runtime,
    api: TestClient,
    identity_api: IdentityApi,
    name: str,
    body: dict[str, Any],
    status: int,
    words: str,
) -> None:
    declare(runtime)
    before = event_count(runtime)
    answer = run(api, name, **body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words in error["message"] or words in str(error["details"]), error
    assert event_count(runtime) == before and identity_api.requests == []


def test_incident_state_refusals(runtime: Runtime, api: TestClient) -> None:
    assert run(api, "echo", params={"text": "x"}).status_code == 404  # no INC-1 yet
    assert run(api, "echo", "INC-x", params={"text": "x"}).status_code == 404
    declare(runtime, service=None)
    no_service = run(api, "rollback", confirm=True)
    assert no_service.status_code == 409 and "has none" in no_service.json()["error"]["message"]
    actor = Actor(name="rita", source="api")
    runtime.flows.transition("INC-1", "resolve", actor=actor, skip_verification=SKIP)
    assert run(api, "echo", params={"text": "x"}).status_code == 200  # resolved: still allowed
    runtime.flows.transition("INC-1", "close", actor=actor)
    before = event_count(runtime)
    closed = run(api, "echo", params={"text": "x"})
    assert closed.status_code == 409 and "is closed" in closed.json()["error"]["message"]
    assert event_count(runtime) == before


def test_dangerous_with_confirm_runs(runtime: Runtime, api: TestClient) -> None:
    declare(runtime)
    result = run(api, "rollback", confirm=True).json()
    assert result["ok"] and result["stdout"] == "rolled back checkout\n"
    assert action_events(runtime)[0].data["dangerous"] is True


def test_a_run_is_marked_started_and_the_same_action_cannot_run_twice_at_once(
    runtime: Runtime, api: TestClient
) -> None:
    import threading

    declare(runtime)
    first: list[Any] = []
    thread = threading.Thread(target=lambda: first.append(run(api, "slow")))
    thread.start()
    try:
        for _ in range(100):  # until the first run is under way
            with runtime.db.session() as session:
                started = [
                    (e.id, e.text, dict(e.data))
                    for e in session.scalars(
                        select(TimelineEvent).where(TimelineEvent.kind == "action_started")
                    )
                ]
            if started:
                break
            time.sleep(0.02)
        ((mark, text, data),) = started
        assert text == "Action slow started" and data["action"] == "slow"
        again = run(api, "slow")
        assert again.status_code == 409, again.text
        error = again.json()["error"]
        assert error["message"].startswith("action slow is already running on INC-1 (started")
        assert error["details"] == {"action": "slow", "started_event": mark}
        other = run(api, "echo", params={"text": "meanwhile"})  # another action may run
        assert other.status_code == 200 and other.json()["ok"] is True
    finally:
        thread.join(10)
    assert first and first[0].status_code == 424  # it timed out, as "slow" does
    (ended,) = [e for e in action_events(runtime) if e.data["action"] == "slow"]
    assert ended.data["started_event"] == mark
    assert run(api, "echo", params={"text": "after"}).status_code == 200


def test_every_run_is_on_the_audit_log(runtime: Runtime, api: TestClient) -> None:
    from tests.audit.conftest import logged

    ref = declare(runtime)
    assert run(api, "echo", params={"text": "hello world"}).json()["ok"] is True
    assert run(api, "fail").json()["ok"] is False
    ok, failed = logged(runtime, "action.run")
    assert (ok["actor"], ok["target"], ok["outcome"]) == ("rita", ref, "ok")
    assert ok["details"]["action"] == "echo" and ok["details"]["exit_code"] == 0
    assert ok["details"]["params"] == {"text": "hello world"}
    assert ok["details"]["command"][-2:] == [ref, "hello world"]
    assert (failed["outcome"], failed["details"]["exit_code"]) == ("failed", 3)
    assert "stdout" not in ok["details"]  # output stays on the timeline, not the audit log
