"""`warroom incident …` against a real server over a socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner, Result

from tests.conftest import REPO, free_port
from tests.helpers import SKIP, finish_postmortem
from warroom.cli.main import app
from warroom.core.clock import FrozenClock
from warroom.incidents.models import ChecklistItem, Incident
from warroom.runtime import Runtime

Cli = Callable[..., Result]
runner = CliRunner()
COMMANDS = ["declare", "list", "show", "ack", "triage", "mitigate", "resolve", "close", "reopen"]
COMMANDS += ["note", "severities", "handoff", "accept", "decline", "role"]
COMMANDS += ["status-update", "status-updates"]
COMMANDS += ["action", "edit", "grant"]
COMMANDS += ["checklist", "check", "skip", "assign-item"]
# Wide and colourless, so Rich output can be matched as plain text.
PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}


def invoke(url: str, token: str | None, *args: str) -> Result:
    """Run `warroom incident ARGS` with WARROOM_URL and WARROOM_TOKEN set."""
    env = {"WARROOM_URL": url, "WARROOM_TOKEN": token, **PLAIN}
    return runner.invoke(app, ["incident", *args], env=env)


@pytest.fixture
def cli(live_server: str, tokens: dict[str, str]) -> Cli:
    """Run incident commands as the responder (or as `token=`) against the live server."""

    def run(*args: str, token: str | None = tokens["responder"]) -> Result:
        return invoke(live_server, token, *args)

    return run


def ok(result: Result) -> str:
    """Assert success and return stdout."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def error(result: Result, code: int = 1) -> str:
    """Assert failure with exactly one `error: …` line on stderr (no traceback); return it."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


def data(result: Result) -> Any:
    """Assert success and parse stdout as JSON."""
    return json.loads(ok(result))


def show(cli: Cli, ref: str) -> dict[str, Any]:
    """Return the server's view of an incident."""
    detail: dict[str, Any] = data(cli("show", ref, "--json"))
    return detail


def refs(cli: Cli, *args: str) -> list[str]:
    """Return the refs `list --json ARGS` prints, in order."""
    return [item["ref"] for item in data(cli("list", "--json", *args))["items"]]


def test_lifecycle_from_declare_to_close(
    cli: Cli, clock: FrozenClock, live_server: str, tokens: dict[str, str]
) -> None:
    out = ok(
        cli(
            "declare",
            "Checkout is down",
            "--severity",
            "sev2",
            "--service",
            "checkout",
            "--summary",
            "Payments fail with 502",
            "--started-at",
            "2026-03-02T08:45:00Z",
        )
    )
    assert "Declared INC-1 (SEV-2): Checkout is down" in out
    assert "runbook: generic, 8 checklist steps" in out

    clock.advance(timedelta(minutes=2))
    out = ok(cli("ack", "1"))
    assert out.strip() == "INC-1 acknowledged by rita at 2026-03-02 09:02 UTC; status is detected"

    line = error(cli("triage", "INC-1"))
    assert "INC-1 cannot be triaged yet: set impact, scope, priority" in line
    assert show(cli, "1")["status"] == "detected"

    triage = ["--commander", "rita", "--impact", "Nobody can pay", "--scope", "EU shoppers"]
    out = ok(cli("triage", "inc-1", *triage, "--priority", "P1", "--severity", "SEV-1"))
    assert out.splitlines()[0] == "INC-1 is now triaged"
    detail = show(cli, "INC-1")
    assert detail["status"] == "triaged"
    assert (detail["severity"], detail["commander"], detail["priority"]) == ("SEV-1", "rita", "P1")
    assert (detail["impact"], detail["scope"]) == ("Nobody can pay", "EU shoppers")
    assert detail["acknowledged_by"] == "rita"
    assert {event["source"] for event in detail["timeline"]} == {"cli"}

    clock.advance(timedelta(minutes=10))
    out = ok(cli("mitigate", "1", "--note", "rolled back release 42"))
    assert out.splitlines()[:2] == ["INC-1 is now mitigated", "time to mitigate: 12m"]
    assert "allowed next: resolve, close, reopen" in out  # acknowledged already: no repeat
    clock.advance(timedelta(minutes=30))
    assert "Verification 2/2" in ok(cli("check", "1", "7")) + ok(cli("check", "1", "8"))
    assert ok(cli("resolve", "1")).splitlines()[0] == "INC-1 is now resolved"
    # A SEV-1 closes once its postmortem is done (written here over the API).
    auth = {"Authorization": f"Bearer {tokens['responder']}"}
    with httpx.Client(base_url=live_server, headers=auth, trust_env=False) as http:
        finish_postmortem(http, "INC-1")
    out = ok(cli("close", "1", "--note", "postmortem held"))
    assert out.splitlines() == [
        "INC-1 is now closed",
        "time to resolve: 42m",
        "allowed next: nothing (closed is final)",
    ]

    detail = show(cli, "1")
    assert detail["status"] == "closed"
    assert detail["durations"] == {
        "time_to_detect": 900.0,
        "time_to_acknowledge": 120.0,
        "time_to_mitigate": 720.0,
        "time_to_resolve": 2520.0,
    }
    kinds = [event["kind"] for event in detail["timeline"]]
    assert kinds[0] == "declared"
    assert kinds[-7:] == [
        "triaged", "mitigated", "checklist", "checklist", "resolved", "postmortem", "closed",
    ]  # fmt: skip
    assert "rolled back release 42" in detail["timeline"][-6]["text"]

    out = ok(cli("show", "INC-1"))
    for text in (
        "INC-1 Checkout is down",
        "Payments fail with 502",
        "impact: Nobody can pay",
        "scope: EU shoppers",
        "priority: P1",
        "time to detect: 15m",
        "time to acknowledge: 2m",
        "time to resolve: 42m",
        "Mitigated (was triaged): rolled back release 42",
    ):
        assert text in out
    assert re.search(r"started \(UTC\)\s+2026-03-02 08:45", out)
    assert re.search(r"acknowledged\s+2026-03-02 09:02 by rita", out)


def test_show_groups_checklist_with_progress(
    cli: Cli, runtime: Runtime, clock: FrozenClock
) -> None:
    ok(cli("declare", "Disk full on db-1", "--commander", "rita"))
    with runtime.db.transaction() as session:
        first = session.scalars(select(ChecklistItem).order_by(ChecklistItem.id)).first()
        assert first is not None
        first.done_at, first.done_by = clock.now(), "rita"
    out = ok(cli("show", "1"))
    assert "Checklist 1/8" in out
    assert "Containment 1/3" in out
    assert "Remediation 0/3" in out
    assert "Verification 0/2" in out
    assert "[x] Limit the blast radius" in out
    assert "(done by rita)" in out
    assert "[ ] Roll back the most recent change" in out
    assert out.index("Containment") < out.index("Remediation") < out.index("Verification")
    assert "rita is Incident Commander" in out


def test_show_prints_the_incident_links(cli: Cli, runtime: Runtime) -> None:
    ok(cli("declare", "Checkout down", "--severity", "SEV-1"))
    out = ok(cli("show", "1"))
    for label in ("chat channel", "conference room", "status page incident"):
        assert label not in out  # nothing recorded yet: no empty rows
    with runtime.db.transaction() as session:
        incident = session.scalars(select(Incident).where(Incident.number == 1)).one()
        incident.links = {
            "chat_channel": "#inc-1-checkout-down",
            "chat_channel_id": "C00000001",
            "conference_url": "https://zoom.example/j/85000000001?pwd=abc",
            "status_page_id": "sp0000000001",
        }
    assert show(cli, "1")["links"]["status_page_id"] == "sp0000000001"
    out = ok(cli("show", "INC-1"))
    assert re.search(r"chat channel\s+#inc-1-checkout-down", out)
    assert re.search(r"conference room\s+https://zoom\.example/j/85000000001\?pwd=abc", out)
    assert re.search(r"status page incident\s+sp0000000001", out)
    assert "C00000001" not in out  # the name is shown when known, not Slack's id
    with runtime.db.transaction() as session:
        incident = session.scalars(select(Incident).where(Incident.number == 1)).one()
        incident.links = {"chat_channel_id": "C00000002"}
    out = ok(cli("show", "1"))
    assert re.search(r"chat channel\s+C00000002", out)
    assert "conference room" not in out


def test_titles_are_not_read_as_markup(cli: Cli) -> None:
    ok(cli("declare", "Queue [bold]stuck[/bold] again"))
    assert "Queue [bold]stuck[/bold] again" in ok(cli("list"))
    assert "Queue [bold]stuck[/bold] again" in ok(cli("show", "1"))


def _declare_five(cli: Cli, clock: FrozenClock) -> None:
    ok(cli("declare", "Primary DB down", "--severity", "SEV-1", "--service", "db"))
    ok(cli("declare", "Slow pages", "--severity", "SEV-3", "--service", "web"))
    ok(cli("declare", "DB CPU pegged", "--service", "db", "--type", "resource-saturation"))
    clock.advance(timedelta(hours=1))
    ok(cli("declare", "Typo on login page", "--severity", "SEV-4", "--service", "web"))
    ok(cli("declare", "Checkout errors", "--severity", "SEV-2", "--service", "web"))


def test_list_filters(cli: Cli, clock: FrozenClock) -> None:
    _declare_five(cli, clock)
    ok(cli("resolve", "2", "--note", "false alarm", "--skip-verification", "false alarm"))
    assert refs(cli) == ["INC-5", "INC-4", "INC-3", "INC-2", "INC-1"]
    assert refs(cli, "--status", "resolved") == ["INC-2"]
    assert refs(cli, "--status", "detected", "--status", "resolved") == refs(cli)
    assert refs(cli, "--status", "resolved,closed") == ["INC-2"]
    assert refs(cli, "--severity", "SEV-2") == ["INC-5"]
    assert refs(cli, "--severity", "sev-1,SEV-4") == ["INC-4", "INC-1"]
    assert refs(cli, "--service", "db") == ["INC-3", "INC-1"]
    assert refs(cli, "--type", "resource-saturation") == ["INC-3"]
    assert refs(cli, "--since", "2026-03-02T09:30:00Z") == ["INC-5", "INC-4"]
    assert refs(cli, "--since", "2026-03-02T10:30+01:00") == ["INC-5", "INC-4"]
    assert refs(cli, "--service", "web", "--status", "detected") == ["INC-5", "INC-4"]

    out = ok(cli("list", "--service", "db"))
    header = next(line for line in out.splitlines() if "ref" in line)
    for column in ("status", "sev", "title", "service", "commander", "detected (UTC)", "age"):
        assert column in header
    row = next(line for line in out.splitlines() if "INC-1" in line)
    for cell in ("detected", "SEV-1", "Primary DB down", "db", "2026-03-02 09:00"):
        assert cell in row
    assert "INC-5" not in out
    assert ok(cli("list", "--service", "nothing-here")).strip() == "no incidents match"

    assert "unknown status bogus" in error(cli("list", "--status", "bogus"))
    assert "unknown severity 'SEV-7'" in error(cli("list", "--severity", "SEV-7"))
    result = cli("list", "--limit", "0")
    assert result.exit_code == 2
    assert "--limit" in result.stderr


def test_list_pages(cli: Cli, clock: FrozenClock) -> None:
    _declare_five(cli, clock)
    page = data(cli("list", "--json", "--limit", "2"))
    assert [item["ref"] for item in page["items"]] == ["INC-5", "INC-4"]
    assert page["next_cursor"]

    everything = data(cli("list", "--json", "--limit", "2", "--all"))
    assert [item["ref"] for item in everything["items"]] == [f"INC-{n}" for n in range(5, 0, -1)]
    assert everything["next_cursor"] is None
    assert refs(cli, "--limit", "2", "--all", "--service", "web") == ["INC-5", "INC-4", "INC-2"]

    out = ok(cli("list", "--limit", "2"))
    assert "INC-4" in out
    assert "INC-3" not in out
    assert "2 shown; more with --all" in out
    out = ok(cli("list", "--limit", "2", "--all"))
    assert all(f"INC-{n}" in out for n in range(1, 6))
    assert "more with --all" not in out


def test_note(cli: Cli, clock: FrozenClock) -> None:
    ok(cli("declare", "Login broken"))
    clock.advance(timedelta(minutes=5))
    out = ok(cli("note", "INC-1", "Saw 500s from auth since 08:55", "--key"))
    assert out.startswith("Added key event #")
    assert out.strip().endswith("to INC-1 at 2026-03-02 09:05 UTC")
    event = data(cli("note", "1", "Restarted auth pods", "--json"))
    assert (event["text"], event["key_event"], event["kind"]) == (
        "Restarted auth pods",
        False,
        "note",
    )
    assert event["actor"] == "rita"

    timeline = show(cli, "1")["timeline"]
    notes = [(e["text"], e["key_event"]) for e in timeline if e["kind"] == "note"]
    assert notes == [("Saw 500s from auth since 08:55", True), ("Restarted auth pods", False)]
    assert "text" in error(cli("note", "1", "   "))
    assert "★ Saw 500s from auth since 08:55" in ok(cli("show", "1"))


def test_illegal_transition_names_allowed_moves(cli: Cli) -> None:
    ok(cli("declare", "Flaky DNS"))
    ok(cli("resolve", "1", "--skip-verification", SKIP))
    line = error(cli("mitigate", "1"))
    assert line == (
        "error: INC-1 is resolved: cannot mitigate (move to mitigated). "
        "Allowed from resolved: close, reopen."
    )
    assert show(cli, "1")["status"] == "resolved"

    ok(cli("declare", "Another"))
    line = error(cli("reopen", "2"))
    assert "Allowed from detected: acknowledge, triage, mitigate, resolve, close." in line
    ok(cli("close", "1"))
    assert "nothing (closed is final)" in error(cli("reopen", "1"))
    assert "nothing (closed is final)" in error(cli("ack", "1"))


def test_reopen_returns_to_triaged(cli: Cli) -> None:
    ok(cli("declare", "Cache stampede"))
    ok(cli("mitigate", "1"))
    out = ok(cli("reopen", "1", "--note", "errors are back"))
    assert out.splitlines()[0] == "INC-1 is now triaged"
    detail = show(cli, "1")
    assert (detail["status"], detail["mitigated_at"]) == ("triaged", None)
    assert detail["timeline"][-1]["text"] == "Reopened (was mitigated): errors are back"


def test_unknown_and_malformed_incident(cli: Cli) -> None:
    assert error(cli("show", "99")) == "error: no incident INC-99"
    assert error(cli("mitigate", "INC-42")) == "error: no incident INC-42"
    assert error(cli("note", "7", "hello")) == "error: no incident INC-7"
    result = cli("show", "../healthz")
    assert result.exit_code == 2
    assert "use a number such as 42 or INC-42" in result.stderr


def test_missing_token_is_named() -> None:
    result = invoke("http://127.0.0.1:9", None, "list")
    line = error(result)
    assert line.startswith("error: WARROOM_TOKEN is not set")
    assert "warroom tokens create" in line
    assert error(invoke("http://127.0.0.1:9", "  ", "show", "1")).startswith(
        "error: WARROOM_TOKEN is not set"
    )


def test_invalid_token_and_unreachable_server(live_server: str) -> None:
    line = error(invoke(live_server, "wr_not-a-real-token", "list"))
    assert line == "error: the API token is not valid (unknown) (check WARROOM_TOKEN)"
    nobody = f"http://127.0.0.1:{free_port()}"
    line = error(invoke(nobody, "wr_x", "show", "1"))
    assert line.startswith(f"error: cannot reach {nobody}")
    assert "check WARROOM_URL" in line


def test_viewer_is_forbidden_to_change(cli: Cli, tokens: dict[str, str]) -> None:
    viewer = tokens["viewer"]
    line = error(cli("declare", "Nope", token=viewer))
    assert line == "error: this needs the responder role; vic is a viewer"
    assert refs(cli) == []
    ok(cli("declare", "Real one"))
    assert "INC-1" in ok(cli("list", token=viewer))
    assert show(cli, "1")["title"] == "Real one"
    for args in (["ack", "1"], ["mitigate", "1"], ["note", "1", "hi"]):
        assert "needs the responder role" in error(cli(*args, token=viewer))
    assert show(cli, "1")["status"] == "detected"


def test_bad_severity_and_fields(cli: Cli) -> None:
    line = error(cli("declare", "Bad", "--severity", "SEV-9"))
    assert "unknown severity 'SEV-9'" in line
    assert "SEV-1 (Critical)" in line
    assert "SEV-4 (Low)" in line
    assert "unknown incident type 'nope'" in error(cli("declare", "Bad", "--type", "nope"))
    assert refs(cli) == []
    ok(cli("declare", "Good"))
    assert "unknown severity 'urgent'" in error(cli("triage", "1", "--severity", "urgent"))
    assert "unknown priority 'P9'" in error(cli("triage", "1", "--priority", "P9"))
    assert show(cli, "1")["severity"] == "SEV-3"
    result = cli("declare", "Later", "--started-at", "yesterday")
    assert result.exit_code == 2
    assert "ISO 8601" in result.stderr
    assert "in the future" in error(cli("declare", "Later", "--started-at", "2099-01-01T00:00"))


def test_every_command_prints_json(cli: Cli, tokens: dict[str, str]) -> None:
    declared = data(cli("declare", "JSON all the way", "--restricted", "--json"))
    assert (declared["ref"], declared["visibility"]) == ("INC-1", "restricted")
    assert declared["allowed_actions"][0] == "acknowledge"
    assert len(declared["checklist"]) == 8
    assert data(cli("ack", "1", "--json"))["acknowledged_by"] == "rita"
    steps = [
        ["triage", "1", "--commander", "rita", "--impact", "i", "--scope", "s", "--priority", "P2"],
        ["mitigate", "1"],
        ["reopen", "1"],
        ["resolve", "1", "--skip-verification", SKIP],
        ["close", "1"],
    ]
    statuses = ["triaged", "mitigated", "triaged", "resolved", "closed"]
    for step, status in zip(steps, statuses, strict=True):
        assert data(cli(*step, "--json"))["status"] == status
    assert data(cli("show", "1", "--json"))["closed_at"] is not None
    assert data(cli("list", "--json"))["items"][0]["status"] == "closed"
    # A restricted type declared public: for an admin (or the type's access team) only.
    public_security = ("declare", "Security but public", "--type", "security", "--public")
    assert "only an admin or the security team" in error(cli(*public_security))
    public = data(cli(*public_security, "--json", token=tokens["admin"]))
    assert (public["visibility"], public["severity"]) == ("public", "SEV-1")


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command: str | None) -> None:
    args = ["incident"] if command is None else ["incident", command]
    result = runner.invoke(app, [*args, "--help"], env=PLAIN)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert runner.invoke(app, [*args, "-h"], env=PLAIN).exit_code == 0


def _leaves(group: Any, prefix: str = "warroom") -> list[tuple[str, Any]]:
    """Return (`warroom a b`, command) for every runnable command under `group`."""
    found: list[tuple[str, Any]] = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if not hasattr(command, "commands"):
            found.append((path, command))
            continue
        if command.invoke_without_command:  # runs alone too (`warroom drill`): its options count
            found.append((path, command))
        found += _leaves(command, path)
    return found


LEAVES = _leaves(typer.main.get_group(app))


def test_every_incident_command_and_parameter_has_help() -> None:
    incident = {path: command for path, command in LEAVES if path.startswith("warroom incident")}
    assert sorted(incident) == sorted(f"warroom incident {name}" for name in COMMANDS)
    for path, command in incident.items():
        assert command.help, path
        options = {opt for param in command.params for opt in param.opts}
        assert "--json" in options, path
        for param in command.params:
            assert getattr(param, "help", None), f"{path} {param.name}"


def test_docs_cover_every_command_option_and_setting() -> None:
    doc = (REPO / "docs" / "cli.md").read_text()
    sections = {
        line.strip("# `"): index
        for index, line in enumerate(doc.splitlines())
        if line[:4] == "### "
    }
    lines = doc.splitlines()
    starts = [*sorted(sections.values()), len(lines)]
    for path, command in LEAVES:
        assert path in sections, f"docs/cli.md has no '### `{path}`' section"
        start = sections[path]
        body = "\n".join(lines[start : starts[starts.index(start) + 1]])
        options = [p for p in command.params if p.param_type_name == "option"]
        for opt in [opt for p in options for opt in (*p.opts, *p.secondary_opts)]:
            assert f"`{opt}" in body, f"{path}: {opt} is not documented"
    for name in ("URL", "TOKEN", "CONFIG", "DATA_DIR", "DATABASE_URL", "RUNBOOKS_DIR"):
        assert f"WARROOM_{name}" in doc
    assert "exit code" in doc.lower()


def test_warroom_cli_imports_stay_light() -> None:
    heavy = ("sqlalchemy", "fastapi", "httpx", "rich")
    code = (
        "import sys, warroom.cli.main, warroom.cli.incident\n"
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(REPO)
    )
    assert done.stdout.strip() == ""


def test_handoff_commands(live_server: str, tokens: dict[str, str]) -> None:
    runner = CliRunner()
    rita = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"], **PLAIN}
    ada = {**rita, "WARROOM_TOKEN": tokens["admin"]}
    assert runner.invoke(app, ["incident", "declare", "Disk full"], env=rita).exit_code == 0
    proposed = runner.invoke(
        app, ["incident", "handoff", "1", "alice", "--reason", "db expert"], env=rita
    )
    assert proposed.exit_code == 0, proposed.output
    assert "INC-1: Incident Commander is rita; alice has yet to accept" in proposed.output
    refused = runner.invoke(app, ["incident", "accept", "1"], env=rita)
    assert refused.exit_code == 1 and "only alice (or an admin)" in refused.output
    accepted = runner.invoke(app, ["incident", "accept", "INC-1"], env=ada)
    assert accepted.exit_code == 0 and "Incident Commander is alice" in accepted.output
    nothing = runner.invoke(app, ["incident", "decline", "1"], env=ada)
    assert nothing.exit_code == 1 and "no pending Incident Commander handoff" in nothing.output


def test_role_command(live_server: str, tokens: dict[str, str]) -> None:
    runner = CliRunner()
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"], **PLAIN}
    runner.invoke(app, ["incident", "declare", "Queue backlog"], env=env)
    given = runner.invoke(app, ["incident", "role", "1", "scribe", "bob"], env=env)
    assert given.exit_code == 0, given.output
    assert "INC-1 roles — commander: rita, reporter: rita, scribe: bob" in given.output
    back = runner.invoke(app, ["incident", "role", "1", "scribe", "bob", "--release"], env=env)
    assert "scribe: bob" not in back.output
    bad = runner.invoke(app, ["incident", "role", "1", "chef", "bob"], env=env)
    assert bad.exit_code == 1 and "unknown role 'chef'" in bad.output


def test_gate_refusals_name_the_commands_that_settle_them(cli: Cli, live_server: str) -> None:
    ok(cli("declare", "Checkout is slow", "--severity", "SEV-2"))
    ok(cli("mitigate", "1"))
    refused = error(cli("resolve", "1"))
    assert "--skip-verification REASON" in refused
    assert "warroom incident check INC-1 N" in refused
    assert "skip_verification" not in refused  # the API's field, not the CLI's option
    assert re.search(r"#\d+ ", refused)  # the open items by number
    ok(cli("resolve", "1", "--skip-verification", SKIP))
    blocked = error(cli("close", "1"))
    assert "warroom postmortem edit INC-1" in blocked
    assert "PUT /api/v1" not in blocked


def test_the_api_keeps_its_own_words_and_codes(live_server: str, tokens: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {tokens['responder']}"}
    with httpx.Client(base_url=live_server, headers=headers) as http:
        http.post("/api/v1/incidents", json={"title": "x", "severity": "SEV-2"}).raise_for_status()
        http.post("/api/v1/incidents/1/mitigate").raise_for_status()
        refused = http.post("/api/v1/incidents/1/resolve").json()["error"]
        assert refused["code"] == "verification_open"
        assert "skip_verification" in refused["message"]
        assert refused["details"]["ref"] == "INC-1" and refused["details"]["open_items"]
        http.post("/api/v1/incidents/1/resolve", json={"skip_verification": SKIP})
        blocked = http.post("/api/v1/incidents/1/close").json()["error"]
        assert blocked["code"] == "postmortem_not_done"
        assert blocked["details"]["postmortem_status"] == "draft"


def test_triage_naming_a_new_commander_says_who_must_accept(cli: Cli) -> None:
    ok(cli("declare", "Checkout is slow", "--severity", "SEV-2", "--commander", "rita"))
    out = ok(
        cli(
            "triage",
            "1",
            "--commander",
            "alice",
            "--impact",
            "i",
            "--scope",
            "s",
            "--priority",
            "P2",
        )
    )
    assert "INC-1 is now triaged" in out
    assert "alice is proposed as Incident Commander; rita stays in charge" in out
    assert "warroom incident accept INC-1" in out
    shown = json.loads(ok(cli("show", "1", "--json")))
    assert shown["commander"] == "rita" and shown["pending_commander"] == "alice"
