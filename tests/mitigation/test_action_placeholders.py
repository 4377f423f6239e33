"""Placeholder values stay in their place: one URL path segment, one argv operand, no code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.mitigation.conftest import TOKEN, IdentityApi, declare, script
from tests.mitigation.test_actions_config import problems
from warroom.config import WarroomConfig
from warroom.incidents.models import TimelineEvent
from warroom.mitigation.action_guards import Refused, fill_argv, fill_url, inline_code
from warroom.mitigation.actions import ActionConfig
from warroom.runtime import Runtime


def run(api: TestClient, name: str, ref: str = "INC-1", **body: Any) -> Any:
    return api.post(f"/api/v1/incidents/{ref}/actions/{name}", json=body)


def events(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        kinds = TimelineEvent.kind.in_(("action", "action_started"))
        return session.scalar(select(func.count()).select_from(TimelineEvent).where(kinds)) or 0


def add(config: WarroomConfig, action: dict[str, Any]) -> None:
    config.actions.append(ActionConfig.model_validate(action))


def http_action(identity_api: IdentityApi, path: str, pattern: str = ".{0,64}") -> dict[str, Any]:
    return {
        "name": "restart",
        "http": {
            "url": identity_api.url + path,
            "bearer_token": TOKEN,
            "json": {"by": "warroom"},
            "timeout": 1,
        },
        "params": {"user": {"pattern": pattern, "required": False}},
    }


# -- URL paths -------------------------------------------------------------------------------


def test_service_dot_dot_never_takes_the_bearer_token_elsewhere(
    runtime: Runtime, api: TestClient, identity_api: IdentityApi, config: WarroomConfig
) -> None:
    add(config, http_action(identity_api, "/services/{service}/restart"))
    config.services.clear()  # with no services: listed, an incident's service is free text
    declare(runtime, service="..")
    answer = run(api, "restart")
    assert answer.status_code == 409, answer.text
    message = answer.json()["error"]["message"]
    assert "cannot use INC-1's service '..'" in message
    assert "URL path segment '..'" in message and "nothing ran" in message
    assert answer.json()["error"]["details"] == {"field": "service"}
    assert identity_api.requests == []
    assert events(runtime) == 0


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("..", "is a path step"),  # (refused earlier, for every param)
        ("%2e%2e", "URL path segment '..'"),
        ("%2E.", "URL path segment '..'"),
        (".%252e", "URL path segment '..'"),  # encoded twice
        ("..;x", "URL path segment '..;x'"),
        ("a/b", "holds a slash"),
        ("a%2Fb", "holds a slash"),
        ("a%252fb", "holds a slash"),
        ("a\\b", "holds a slash"),
        ("", "URL path segment empty"),
    ],
)
def test_param_cannot_leave_its_path_segment(
    runtime: Runtime,
    api: TestClient,
    identity_api: IdentityApi,
    config: WarroomConfig,
    value: str,
    words: str,
) -> None:
    add(config, http_action(identity_api, "/users/{user}/restart"))
    declare(runtime)
    answer = run(api, "restart", params={"user": value})
    assert answer.status_code == 422, answer.text
    assert words in answer.json()["error"]["message"]
    assert answer.json()["error"]["details"]["field"] == "params.user"
    assert identity_api.requests == []
    assert events(runtime) == 0


def test_query_values_and_dots_inside_a_segment_are_fine(
    runtime: Runtime, api: TestClient, identity_api: IdentityApi, config: WarroomConfig
) -> None:
    add(config, http_action(identity_api, "/users/v1.{user}/restart?back={user}"))
    declare(runtime)
    assert run(api, "restart", params={"user": "."}).status_code == 422  # `.` is never a value
    result = run(api, "restart", params={"user": "a.b"}).json()
    assert result["ok"] is True, result
    assert identity_api.requests[-1].path == "/users/v1.a.b/restart?back=a.b"


def test_fill_url_units() -> None:
    values = {"a": ".", "b": "..", "s": "x/y", "ok": "a b", "e": ""}
    assert fill_url("https://h/p/{ok}?q={s}#{b}", values) == "https://h/p/a%20b?q=x%2Fy#.."
    assert fill_url("https://h/{{a}}/{ok}", values) == "https://h/{a}/a%20b"
    assert fill_url("https://h/{e}x", values) == "https://h/x"
    for url in ("https://h/{a}{a}", "https://h/.{a}", "https://h/p/{e}", "https://h/p/{e}/x"):
        with pytest.raises(Refused):
            fill_url(url, values)


# -- argv --------------------------------------------------------------------------------------


def dash_action(allow: bool) -> dict[str, Any]:
    return {
        "name": "grep-logs",
        "command": [*script("import sys; print(sys.argv[1:])"), "{pattern}", "--", "x"],
        "params": {"pattern": {"pattern": ".{1,40}", "allow_leading_dash": allow}},
    }


def test_leading_dash_is_refused_in_argv(
    runtime: Runtime, api: TestClient, config: WarroomConfig
) -> None:
    add(config, dash_action(allow=False))
    declare(runtime)
    answer = run(api, "grep-logs", params={"pattern": "--output=/etc/passwd"})
    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert "param 'pattern': '--output=/etc/passwd' starts with '-'" in message
    assert "allow_leading_dash: true" in message
    assert events(runtime) == 0
    assert run(api, "grep-logs", params={"pattern": "a-b"}).json()["ok"] is True


def test_allow_leading_dash_lets_it_through(
    runtime: Runtime, api: TestClient, config: WarroomConfig
) -> None:
    add(config, dash_action(allow=True))
    declare(runtime)
    result = run(api, "grep-logs", params={"pattern": "-v"}).json()
    assert result["ok"] is True, result
    assert result["stdout"] == "['-v', '--', 'x']\n"


def test_service_with_a_leading_dash_is_refused(
    runtime: Runtime, api: TestClient, config: WarroomConfig
) -> None:
    add(config, {"name": "kick", "command": [*script("print(1)"), "{service}"]})
    config.services.clear()
    declare(runtime, service="-rf")
    answer = run(api, "kick")
    assert answer.status_code == 409, answer.text
    assert "service '-rf'" in answer.json()["error"]["message"]
    assert events(runtime) == 0


def test_fill_argv_units() -> None:
    assert fill_argv("--user={u}", {"u": "-x"}) == "--user=-x"
    assert fill_argv("x{u}", {"u": "-x"}) == "x-x"
    with pytest.raises(Refused) as refused:
        fill_argv("{a}{u}", {"a": "", "u": "-x"})
    assert refused.value.name == "u"
    assert fill_argv("{u}", {"u": "-x"}, ["u"]) == "-x"


# -- config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["sh", "-c", "echo {x}"],
        ["env", "sh", "-c", "echo {x}"],
        ["/usr/bin/env", "FOO=1", "bash", "-euc", "echo {x}"],
        ["busybox", "sh", "-c", "echo {x}"],
        ["bash", "-o", "pipefail", "-c", "echo {x}"],
        ["fish", "--command", "echo {x}"],
        ["python", "-c", "print('{x}')"],
        ["python3.12", "-Ic", "print('{x}')"],
        ["nice", "-n", "5", "python3", "-W", "ignore", "-c", "print('{x}')"],
        ["perl", "-e", "print '{x}'"],
        ["perl", "-lne", "print '{x}'"],
        ["ruby", "-e", "puts '{x}'"],
        ["node", "--eval", "console.log('{x}')"],
        ["php", "-r", "echo '{x}';"],
        ["sudo", "-u", "deploy", "bash", "-lc", "echo {x}"],
        ["sudo", "-s", "echo", "{x}"],
        ["su", "deploy", "-c", "echo {x}"],
        ["env", "-S", "sh -c 'echo {x}'"],
        ["ssh", "db1", "bash", "-c", "echo {x}"],
        ["awk", 'BEGIN { system("{x}") }'],
        ["pwsh", "-Command", "echo {x}"],
    ],
)
def test_code_given_to_a_shell_or_interpreter_is_refused(tmp_path: Path, argv: list[str]) -> None:
    action = {"name": "a", "command": argv, "params": {"x": {"pattern": ".*"}}}
    found = problems(tmp_path, [action])
    assert any("argv hands code to a shell or interpreter" in p for p in found), found


@pytest.mark.parametrize(
    "argv",
    [
        ["bash", "/srv/scripts/rollback.sh", "{x}"],
        ["python3", "/srv/tools/flags.py", "-c", "conf.yaml", "{x}"],
        ["python3", "-m", "tools.flags", "-c", "{x}"],
        ["perl", "-Mstrict", "-Mfeature=say", "/srv/x.pl", "{x}"],
        ["kubectl", "rollout", "undo", "deployment/{x}", "--namespace", "prod"],
        ["sudo", "-u", "deploy", "kubectl", "-s", "https://k8s", "get", "{x}"],
        ["grep", "-c", "{x}", "/var/log/app.log"],
    ],
)
def test_programs_with_their_own_options_pass(argv: list[str]) -> None:
    assert inline_code(argv) is None


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ({"name": "a", "command": ["{x}", "go"], "params": {"x": {"pattern": "."}}}, "argv[0]"),
        (
            {
                "name": "a",
                "command": ["echo", "{incident}"],
                "params": {"x": {"pattern": ".", "allow_leading_dash": True}},
            },
            "params.x.allow_leading_dash: {x} is not used in command.argv",
        ),
        (
            {
                "name": "a",
                "http": {"url": "https://h/{x}"},
                "params": {"x": {"pattern": ".", "allow_leading_dash": True}},
            },
            "params.x.allow_leading_dash: {x} is not used in command.argv",
        ),
        (
            {
                "name": "a",
                "command": ["echo", "{x}"],
                "params": {"x": {"pattern": ".", "allow_leading_dash": "sometimes"}},
            },
            "allow_leading_dash: Input should be a valid boolean",
        ),
    ],
)
def test_config_mistakes(tmp_path: Path, action: dict[str, Any], words: str) -> None:
    found = problems(tmp_path, [action])
    assert any(words in p for p in found), found
