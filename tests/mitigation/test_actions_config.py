"""The `actions:` section: good configs load, mistakes are file:line: messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from warroom.config import load_config
from warroom.core.errors import ConfigError
from warroom.mitigation.actions import fill, placeholders
from warroom.mitigation.runner import Capture


def problems(tmp_path: Path, actions: list[dict[str, Any]]) -> list[str]:
    path = tmp_path / "warroom.yaml"
    path.write_text(yaml.safe_dump({"actions": actions}, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def test_a_good_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAGS_TOKEN", "tok-123456")
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "actions:\n"
        "  - name: rollback\n"
        '    command: ["kubectl", "rollout", "undo", "deployment/{service}"]\n'
        "    dangerous: true\n"
        "  - name: disable-feature\n"
        "    http:\n"
        "      method: patch\n"
        "      url: https://flags.example.com/api/flags/{flag}\n"
        '      headers: {Authorization: "env:FLAGS_TOKEN"}\n'
        "      json: {enabled: false, note: 'by {incident}'}\n"
        "    params: {flag: {pattern: '[a-z-]+'}}\n"
    )
    config = load_config(path)
    rollback, flag = config.actions
    assert rollback.kind == "command" and rollback.timeout == 60
    assert rollback.allowed_roles == ["responder", "admin"]
    assert flag.http is not None and flag.http.method == "PATCH" and flag.timeout == 10
    assert flag.http.headers["Authorization"].get_secret_value() == "tok-123456"


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ({"name": "a", "command": ["x", "{user}"]}, "actions.0: command.argv.1: unknown"),
        ({"name": "a", "command": ["x", "{user}"]}, "unknown placeholder {user}"),
        ({"name": "a", "command": ["x", "{user.__class__}"]}, "must be a plain name"),
        ({"name": "a", "command": ["x", "{"]}, "literal braces"),
        ({"name": "a", "command": []}, "actions.0.command.argv: List should have at least 1"),
        ({"name": "a", "command": [""]}, "argv[0]) must not be empty"),
        (
            {
                "name": "a",
                "command": ["/bin/sh", "-c", "echo {text}"],
                "params": {"text": {"pattern": ".*"}},
            },
            "argv hands code to a shell or interpreter (/bin/sh -c runs a string as code)",
        ),
        ({"name": "a", "command": ["bash", "-ec", "kubectl rollout undo"]}, "never runs"),
        ({"name": "a"}, "give exactly one of command or http"),
        (
            {"name": "a", "command": ["x"], "http": {"url": "https://a.example"}},
            "exactly one",
        ),
        (
            {"name": "a", "command": ["x"], "params": {"u": {"pattern": "(["}}},
            "not a valid regular",
        ),
        ({"name": "a", "command": ["x"], "params": {"u": {}}}, "params.u.pattern: Field required"),
        ({"name": "a", "command": ["x"], "params": {"service": {"pattern": "x"}}}, "clashes"),
        ({"name": "a", "command": ["x"], "allowed_roles": ["viewer"]}, "allowed_roles.0"),
        (
            {"name": "a", "command": ["x"], "shell": True},
            "actions.0: unknown field 'shell'; known: allowed_roles, command,",
        ),
        ({"name": "a", "command": {"argv": ["x"], "timeout": 0}}, "timeout: Input should be"),
        ({"name": "a", "command": {"argv": ["x"], "env": {"A B": "v"}}}, "environment variable"),
        ({"name": "a", "command": {"argv": ["x"], "env": {"K": "env:NOPE_UNSET"}}}, "NOPE_UNSET"),
        ({"name": "a", "http": {"url": "ftp://a.example"}}, "http.url"),
        ({"name": "a", "http": {"url": "https://{host}/x"}}, "http.url"),
        ({"name": "a", "http": {"url": "https://a.example", "method": "TRACE"}}, "TRACE"),
        (
            {"name": "a", "http": {"url": "https://a.example", "json": {}, "body": "x"}},
            "json or body",
        ),
        ({"name": "a", "http": {"url": "https://a.example", "expect_status": [42]}}, "42"),
        ({"name": "a", "http": {"url": "https://a.example/{x}"}}, "unknown placeholder {x}"),
        ({"name": "a", "http": {"url": "https://a.example", "json": {"k": "{x}"}}}, "http.json.k"),
        ({"name": "Bad Name", "command": ["x"]}, "actions.0.name"),
        (
            {
                "name": "a",
                "http": {
                    "url": "https://a",
                    "bearer_token": "t",
                    "headers": {"authorization": "x"},
                },
            },
            "not both",
        ),
    ],
)
def test_mistakes_are_named(tmp_path: Path, action: dict[str, Any], words: str) -> None:
    found = problems(tmp_path, [action])
    assert any(words in p for p in found), found
    assert all(p.startswith(f"{tmp_path / 'warroom.yaml'}:") for p in found)


def test_duplicate_names(tmp_path: Path) -> None:
    found = problems(tmp_path, [{"name": "a", "command": ["x"]}, {"name": "a", "command": ["y"]}])
    assert any("action 'a' is defined twice" in p for p in found), found


def test_fill_never_reaches_python_objects() -> None:
    assert placeholders("{a}-{{lit}}-{b}") == ["a", "b"]
    assert fill("{a}/{{x}}", {"a": "{b}"}) == "{b}/{x}"  # values are not formatted again
    assert fill("https://h/{u}", {"u": "..a b?c"}, encode=True) == "https://h/..a%20b%3Fc"


def test_capture_keeps_head_and_tail() -> None:
    capture = Capture(cap=8)
    for chunk in (b"abc", b"defgh", b"ijkl"):
        capture.feed(chunk)
    assert capture.truncated and capture.text() == "abcd\n…[truncated: 4 bytes not kept]…\nijkl"
    small = Capture(cap=8)
    small.feed("é".encode())
    assert not small.truncated and small.text() == "é"


def test_example_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.config.test_config import EXAMPLE, EXAMPLE_SECRET_VALUES, EXAMPLE_SECRETS

    for name in EXAMPLE_SECRETS:
        monkeypatch.setenv(name, EXAMPLE_SECRET_VALUES.get(name, f"secret-of-{name.lower()}"))
    actions = {a.name: a for a in load_config(EXAMPLE).actions}
    assert {"rollback", "disable-account", "disable-feature", "block-ip"} <= set(actions)
    assert actions["rollback"].dangerous and actions["rollback"].kind == "command"
    token = actions["disable-account"].http.bearer_token  # type: ignore[union-attr]
    assert token is not None and token.get_secret_value() == "secret-of-identity_api_token"
    address = actions["block-ip"].params["address"]
    for good in ("203.0.113.7", "198.51.100.0/24", "10.0.0.0/8", "2001:db8::1", "2001:db8::/32"):
        assert address.matches(good), good
    for bad in (
        "300.1.1.1",
        "1.2.3.4/33",
        "1.2.3.4; rm -rf /",
        "example.com",
        "",
        "0.0.0.0/0",
        "10.0.0.0/7",
        "::/0",
        "2001:db8::/15",
    ):
        assert not address.matches(bad), bad
