"""`warroom incident action` and `warroom actions list` against a live server over a socket."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.cli.test_incident_cli import PLAIN, Cli, cli, error, ok  # noqa: F401  (fixture)
from tests.mitigation.conftest import IdentityApi, declare
from warroom.cli.main import app
from warroom.runtime import Runtime

runner = CliRunner()


def test_list(live_server: str, tokens: dict[str, str], runtime: Runtime) -> None:
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["viewer"], **PLAIN}
    table = runner.invoke(app, ["actions", "list"], env=env)
    assert table.exit_code == 0, table.output
    assert (
        "disable-account" in table.stdout and "Roll back the service's last deploy" in table.stdout
    )
    listed = json.loads(runner.invoke(app, ["actions", "list", "--json"], env=env).stdout)
    assert [a["name"] for a in listed["items"]][:2] == ["echo", "rollback"]


def test_run_prints_output_and_exit_code(cli: Cli, runtime: Runtime) -> None:  # noqa: F811
    ref = declare(runtime)
    out = ok(cli("action", "1", "echo", "--param", "text=a=b; ls"))
    assert out.startswith(f"['{ref}', 'a=b; ls']\necho on {ref}: ok, exit code 0 in ")
    failed = cli("action", ref, "fail")
    assert failed.exit_code == 1
    assert failed.stderr == "oops\n" and "fail on INC-1: FAILED, exit code 3" in failed.stdout
    as_json = cli("action", ref, "fail", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["exit_code"] == 3
    timed_out = cli("action", ref, "slow")
    assert timed_out.exit_code == 1 and "timed out after" in timed_out.stdout


def test_dangerous_asks_first(
    cli: Cli,  # noqa: F811
    runtime: Runtime,
    live_server: str,
    tokens: dict[str, str],
    identity_api: IdentityApi,
) -> None:
    declare(runtime)
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"], **PLAIN}
    args = ["incident", "action", "1", "disable-account", "--param", "user=mallory"]
    declined = runner.invoke(app, args, env=env, input="n\n")
    assert declined.exit_code == 1 and "not run: not confirmed" in declined.stderr
    assert "disable-account is dangerous" in declined.stderr
    assert identity_api.requests == []
    accepted = runner.invoke(app, args, env=env, input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "disable-account on INC-1: ok, HTTP 200" in accepted.stdout
    assert ok(cli("action", "1", "rollback", "--yes")).startswith("rolled back checkout\n")
    assert len(identity_api.requests) == 1


def test_refusals_are_one_line(cli: Cli, runtime: Runtime) -> None:  # noqa: F811
    declare(runtime)
    assert "no action 'nope'; configured: echo" in error(cli("action", "1", "nope"))
    assert "param 'text' is required" in error(cli("action", "1", "echo"))
    assert "does not match" in error(cli("action", "1", "echo", "--param", "text="))
    assert "no incident INC-9" in error(cli("action", "9", "echo", "--param", "text=x"))
    assert "may be run by admin" in error(cli("action", "1", "secret"))
    usage = cli("action", "1", "echo", "--param", "text")
    assert usage.exit_code == 2 and "NAME=VALUE" in usage.output
    shown = json.loads(ok(cli("show", "1", "--json")))["timeline"]
    assert [e["kind"] for e in shown if e["kind"] == "action"] == []
