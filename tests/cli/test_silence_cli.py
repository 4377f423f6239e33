"""`warroom silence …` against a real server over a socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from warroom.cli.main import app
from warroom.cli.silence import parse_duration
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock

Cli = Callable[..., Result]
runner = CliRunner()
COMMANDS = ["add", "list", "expire"]
PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}
CHECKOUT = 'service="checkout"'
HOOK = "webhook-token"


@pytest.fixture
def config() -> WarroomConfig:
    """A generic webhook integration, to see a silence hold an alert back."""
    return WarroomConfig.model_validate(
        {"integrations": {"webhook": [{"name": "hooks", "token": HOOK}]}}
    )


def invoke(url: str, token: str | None, *args: str) -> Result:
    """Run `warroom silence ARGS` with WARROOM_URL and WARROOM_TOKEN set."""
    env = {"WARROOM_URL": url, "WARROOM_TOKEN": token, **PLAIN}
    return runner.invoke(app, ["silence", *args], env=env)


@pytest.fixture
def cli(live_server: str, tokens: dict[str, str]) -> Cli:
    """Run silence commands as the responder (or as `token=`) against the live server."""

    def run(*args: str, token: str | None = tokens["responder"]) -> Result:
        return invoke(live_server, token, *args)

    return run


def ok(result: Result) -> str:
    """Assert success and return stdout."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def error(result: Result) -> str:
    """Assert exit 1 with exactly one `error: …` line on stderr; return it."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def usage(result: Result) -> str:
    """Assert a usage error (exit 2) and return stderr."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    return " ".join(result.stderr.split())


def data(result: Result) -> Any:
    """Assert success and parse stdout as JSON."""
    return json.loads(ok(result))


def listed(cli: Cli, state: str = "all") -> list[dict[str, Any]]:
    """Return the silences `list --json --state STATE` prints."""
    items: list[dict[str, Any]] = data(cli("list", "--json", "--state", state))
    return items


def when(value: str) -> datetime:
    """Parse an API timestamp."""
    return datetime.fromisoformat(value)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("2h", 120), ("1d", 1440), ("1h30m", 90), ("1d2h5m", 1565), (" 2H ", 120)],
)
def test_parse_duration(text: str, minutes: int) -> None:
    assert parse_duration(text) == minutes


@pytest.mark.parametrize(
    "text", ["", "2", "2x", "h", "0m", "0h0m", "30m1h", "-5m", "1.5h", "2 h", "367d", "30s"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|366d"):
        parse_duration(text)


def test_add_with_duration(cli: Cli, clock: FrozenClock) -> None:
    out = ok(cli("add", CHECKOUT, 'env!="dev"', "--duration", "1h30m", "--comment", "DB upgrade"))
    assert out.splitlines() == [
        'Silence 1 is active until 2026-03-02 10:30 UTC: service="checkout", env!="dev"',
        "end it early with: warroom silence expire 1",
    ]
    (silence,) = listed(cli)
    assert silence["matchers"] == [CHECKOUT, 'env!="dev"']
    assert when(silence["starts_at"]) == clock.now()
    assert when(silence["ends_at"]) == clock.now() + timedelta(minutes=90)
    assert (silence["comment"], silence["created_by"]) == ("DB upgrade", "rita")


def test_add_with_until_and_starts(cli: Cli, clock: FrozenClock) -> None:
    args = ["--starts", "2026-03-02T11:00+01:00", "--until", "2026-03-02T12:00", "--comment", "x"]
    out = ok(cli("add", CHECKOUT, *args))
    assert out.splitlines()[0] == (
        'Silence 1 is pending: from 2026-03-02 10:00 until 2026-03-02 12:00 UTC: service="checkout"'
    )
    later = ["--starts", "2026-03-02T10:00Z", "--duration", "2h", "--comment", "later"]
    silence = data(cli("add", CHECKOUT, *later, "--json"))
    assert silence["state"] == "pending"
    assert when(silence["ends_at"]) == clock.now() + timedelta(hours=3)


def test_add_usage_errors(cli: Cli) -> None:
    assert "give exactly one of --duration and --until" in usage(
        cli("add", CHECKOUT, "--comment", "x")
    )
    both = cli("add", CHECKOUT, "--comment", "x", "--duration", "1h", "--until", "2026-03-03")
    assert "give exactly one of --duration and --until" in usage(both)
    bad = usage(cli("add", CHECKOUT, "--comment", "x", "--duration", "2 hours"))
    assert "'--duration'" in bad and "use e.g. 30m, 2h, 1d or 1h30m" in bad
    assert "ISO 8601" in usage(cli("add", CHECKOUT, "--comment", "x", "--until", "tomorrow"))
    assert "--comment" in usage(cli("add", CHECKOUT, "--duration", "1h"))
    assert "MATCHER" in usage(cli("add", "--duration", "1h", "--comment", "x"))
    assert listed(cli) == []


def test_add_server_errors(cli: Cli) -> None:
    line = error(cli("add", CHECKOUT, "service=checkout", "--duration", "1h", "--comment", "x"))
    assert line.startswith("error: matchers[1]: ")
    assert "double quotes" in line
    before_now = cli("add", CHECKOUT, "--until", "2026-03-01T00:00Z", "--comment", "x")
    assert error(before_now) == "error: ends_at must be after starts_at"
    window = ["--starts", "2026-02-28T00:00Z", "--until", "2026-03-01T00:00Z"]
    assert "ends_at is in the past" in error(cli("add", CHECKOUT, *window, "--comment", "x"))
    blank = cli("add", CHECKOUT, "--duration", "1h", "--comment", "  ")
    assert "say why in the comment" in error(blank)
    assert listed(cli) == []


def test_list_states_and_table(cli: Cli, clock: FrozenClock) -> None:
    assert ok(cli("list")).strip() == "no active silences"
    assert ok(cli("list", "--state", "all")).strip() == "no silences"
    ok(cli("add", CHECKOUT, "--duration", "3h", "--comment", "DB upgrade [primary]"))
    search = ["--starts", "2026-03-02T10:00Z", "--duration", "1h", "--comment", "reindex"]
    ok(cli("add", 'team="search"', *search))
    ok(cli("add", 'env="staging"', "--duration", "5m", "--comment", "deploy"))
    clock.advance(timedelta(minutes=10))
    assert [s["id"] for s in listed(cli, "active")] == [1]
    assert [s["id"] for s in listed(cli, "pending")] == [2]
    assert [s["id"] for s in listed(cli, "expired")] == [3]
    assert [s["id"] for s in listed(cli, "all")] == [3, 2, 1]

    out = ok(cli("list"))
    header = next(line for line in out.splitlines() if "matchers" in line)
    for column in ("id", "state", "starts (UTC)", "ends (UTC)", "created by", "comment"):
        assert column in header
    row = next(line for line in out.splitlines() if "checkout" in line)
    for cell in ("active", 'service="checkout"', "2026-03-02 09:00", "2026-03-02 12:00", "rita"):
        assert cell in row
    assert "DB upgrade [primary]" in row  # not read as Rich markup
    assert "search" not in out and "staging" not in out
    everything = ok(cli("list", "--state", "all"))
    assert all(name in everything for name in ("checkout", "search", "staging", "pending"))
    assert "--state" in usage(cli("list", "--state", "soon"))


def test_expire(cli: Cli, clock: FrozenClock) -> None:
    ok(cli("add", CHECKOUT, "--duration", "2h", "--comment", "x"))
    clock.advance(timedelta(minutes=15))
    assert ok(cli("expire", "1")).strip() == "Silence 1 expired at 2026-03-02 09:15 UTC"
    (silence,) = listed(cli, "expired")
    assert (silence["state"], silence["expired_by"]) == ("expired", "rita")
    assert listed(cli, "active") == []
    assert "silence 1 already expired at 2026-03-02T09:15:00" in error(cli("expire", "1"))
    assert error(cli("expire", "42")) == "error: no silence 42"
    assert "ID" in usage(cli("expire", "0"))
    assert "ID" in usage(cli("expire", "one"))
    ok(cli("add", CHECKOUT, "--duration", "1h", "--comment", "y"))
    assert data(cli("expire", "2", "--json"))["state"] == "expired"


def test_cli_silence_holds_alerts_back_until_expired(cli: Cli, live_server: str) -> None:
    ok(cli("add", CHECKOUT, "--duration", "30m", "--comment", "maintenance"))
    alert = {"title": "DB slow", "dedup_key": "db-slow", "labels": {"service": "checkout"}}
    url, headers = f"{live_server}/api/v1/intake/webhook", {"Authorization": f"Bearer {HOOK}"}
    held = httpx.post(url, json=alert, headers=headers).json()
    assert (held["silenced"], held["incidents_opened"]) == (1, [])
    ok(cli("expire", "1"))
    assert httpx.post(url, json=alert, headers=headers).json()["incidents_opened"] == ["INC-1"]


def test_viewer_cannot_add_or_expire(cli: Cli, tokens: dict[str, str]) -> None:
    viewer = tokens["viewer"]
    line = error(cli("add", CHECKOUT, "--duration", "1h", "--comment", "x", token=viewer))
    assert line == "error: this needs the responder role; vic is a viewer"
    ok(cli("add", CHECKOUT, "--duration", "1h", "--comment", "x"))
    assert "needs the responder role" in error(cli("expire", "1", token=viewer))
    assert [s["state"] for s in data(cli("list", "--json", token=viewer))] == ["active"]


def test_missing_token_and_unreachable_server() -> None:
    line = error(invoke("http://127.0.0.1:9", None, "list"))
    assert line.startswith("error: WARROOM_TOKEN is not set")
    line = error(invoke("http://127.0.0.1:9", "wr_x", "expire", "1"))
    assert line.startswith("error: cannot reach http://127.0.0.1:9")
    assert "check WARROOM_URL" in line


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command: str | None) -> None:
    args = ["silence"] if command is None else ["silence", command]
    result = runner.invoke(app, [*args, "--help"], env=PLAIN)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert runner.invoke(app, [*args, "-h"], env=PLAIN).exit_code == 0


def test_every_silence_command_and_parameter_has_help() -> None:
    group = typer.main.get_group(app).commands["silence"]
    commands = getattr(group, "commands", {})
    assert sorted(commands) == sorted(COMMANDS)
    for name, command in commands.items():
        assert command.help, name
        assert "--json" in {opt for param in command.params for opt in param.opts}, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name}"
