"""`warroom incident edit`, the list at 80 columns, false alarms, waivers and closed notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner, Result

from tests.cli.test_incident_cli import Cli, data, error, invoke, ok, show
from warroom.cli.main import app
from warroom.core.clock import FrozenClock

runner = CliRunner()


@pytest.fixture
def cli(live_server: str, tokens: dict[str, str]) -> Cli:
    """Run incident commands as the responder (or as `token=`) against the live server."""

    def run(*args: str, token: str | None = tokens["responder"]) -> Result:
        return invoke(live_server, token, *args)

    return run


def test_edit_raises_the_severity_by_name_and_says_what_changed(cli: Cli) -> None:
    ok(cli("declare", "Search is slow", "--severity", "medium"))
    assert show(cli, "INC-1")["severity"] == "SEV-3"
    out = ok(cli("edit", "INC-1", "--severity", "critical", "--title", "Search is down"))
    assert out.strip() == "INC-1: title Search is slow → Search is down; severity SEV-3 → SEV-1"
    out = ok(cli("edit", "1", "--service", "search", "--priority", "P1", "--impact", "All users"))
    assert out.strip() == "INC-1: service — → search; priority — → P1; impact updated"
    detail = show(cli, "INC-1")
    assert (detail["severity"], detail["title"], detail["impact"]) == (
        "SEV-1",
        "Search is down",
        "All users",
    )
    texts = [event["text"] for event in detail["timeline"]]
    assert "Severity SEV-3 → SEV-1" in texts
    out = ok(cli("edit", "INC-1", "--severity", "SEV-1", "--reason", "confirmed"))
    assert out.strip() == "INC-1 unchanged: it already had those values"


def test_edit_refuses_nothing_and_bad_values_whole(cli: Cli) -> None:
    ok(cli("declare", "Search is slow", "--severity", "SEV-3"))
    result = cli("edit", "INC-1")
    assert result.exit_code == 2 and "nothing to change" in result.output
    line = error(cli("edit", "INC-1", "--severity", "urgent", "--title", "Other"))
    assert "unknown severity 'urgent'" in line and "SEV-1 (Critical)" in line
    assert show(cli, "INC-1")["title"] == "Search is slow"  # nothing half-written


def test_list_open_and_fits_80_columns(live_server: str, tokens: dict[str, str]) -> None:
    def narrow(*args: str) -> Result:
        env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"]}
        env |= {"COLUMNS": "80", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}
        return runner.invoke(app, ["incident", *args], env=env)

    for title, service in [("Checkout is down", "checkout"), ("Login is slow", "identity")]:
        ok(narrow("declare", title, "--service", service, "--commander", "rita"))
    ok(narrow("resolve", "INC-2", "--false-alarm", "a load test"))
    out = ok(narrow("list", "--status", "open"))
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    assert "…" not in out, out
    assert "INC-1" in out and "checkout" in out and "commander" in out
    assert "INC-2" not in out  # resolved is not open
    assert "INC-2" in ok(narrow("list", "--status", "open,resolved"))


def test_false_alarm_and_waiver_from_the_cli(cli: Cli, tokens: dict[str, str]) -> None:
    ok(cli("declare", "Disk alert on a test box", "--severity", "SEV-2"))
    out = ok(cli("resolve", "INC-1", "--false-alarm", "the box is a test box"))
    assert out.startswith("INC-1 is now resolved (a false alarm)")
    assert "is now closed" in ok(cli("close", "INC-1"))

    ok(cli("declare", "Checkout is down", "--severity", "SEV-1"))
    ok(cli("handoff", "INC-2", "admin"))
    ok(cli("edit", "INC-2", "--severity", "SEV-3"))
    ok(cli("resolve", "INC-2", "--skip-verification", "checked by hand"))
    line = error(cli("close", "INC-2"))
    assert "needs its postmortem done before it closes (it was SEV-1 at its worst)" in line
    line = error(cli("close", "INC-2", "--waive-postmortem", "reviewed with INC-1"), 1)
    assert "only an admin can waive" in line
    out = ok(cli("close", "INC-2", "--waive-postmortem", "reviewed", token=tokens["admin"]))
    assert "is now closed" in out
    assert "proposed as Incident Commander" not in out  # a pending handoff is moot once closed
    texts = [event["text"] for event in show(cli, "INC-2")["timeline"]]
    assert "Postmortem waived by ada: reviewed" in texts


def test_notes_are_numbered_per_incident_and_closed_is_final(cli: Cli, clock: FrozenClock) -> None:
    ok(cli("declare", "One"))
    ok(cli("declare", "Two"))
    ok(cli("note", "INC-1", "first on one"))
    clock.advance(timedelta(minutes=1))
    assert ok(cli("note", "INC-2", "first on two")).startswith("Added note #1 to INC-2")
    assert ok(cli("note", "INC-1", "second on one")).startswith("Added note #2 to INC-1")
    assert data(cli("note", "INC-1", "third", "--json"))["number"] == 3

    ok(cli("close", "INC-2", "--false-alarm", "duplicate of INC-1"))
    line = error(cli("note", "INC-2", "late thought"))
    assert "INC-2 is closed, and closed is final" in line
    assert "declare a new incident" in line
    assert [e["text"] for e in show(cli, "INC-2")["timeline"]].count("late thought") == 0


def test_show_says_the_worst_severity_and_the_notices(cli: Cli) -> None:
    ok(cli("declare", "Checkout is down", "--severity", "SEV-1"))
    ok(cli("edit", "INC-1", "--severity", "low"))
    ok(cli("resolve", "INC-1", "--false-alarm", "a synthetic check misfired"))
    out = ok(cli("show", "INC-1"))
    assert "at its worst" in out and "SEV-1" in out
    assert "! Ended as a false alarm: a synthetic check misfired" in out


def test_grant_from_the_cli(cli: Cli, tokens: dict[str, str]) -> None:
    ok(cli("declare", "Customer data exposed", "--type", "security", token=tokens["admin"]))
    result = cli("show", "INC-1", token=tokens["viewer"])
    assert result.exit_code == 1 and "no incident INC-1" in result.stderr
    blank = cli("grant", "INC-1", "vic", "--reason", " ", token=tokens["admin"])
    assert blank.exit_code == 2
    out = ok(cli("grant", "INC-1", "vic", "--reason", "legal needs it", token=tokens["admin"]))
    assert out.strip() == "vic can now see INC-1 (restricted)"
    assert data(cli("show", "INC-1", "--json", token=tokens["viewer"]))["ref"] == "INC-1"
    # rita, a responder who is no participant, still does not see it.
    assert "no incident INC-1" in cli("show", "INC-1", token=tokens["responder"]).stderr
