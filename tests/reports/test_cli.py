"""`warroom metrics incidents` against a live server over a socket."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner, Result

from tests.cli.test_incident_cli import PLAIN, error, ok
from warroom.cli.main import app

runner = CliRunner()


def metrics(url: str, token: str, *args: str) -> Result:
    env = {"WARROOM_URL": url, "WARROOM_TOKEN": token, **PLAIN}
    return runner.invoke(app, ["metrics", "incidents", *args], env=env)


def test_table_json_and_csv(
    live_server: str, tokens: dict[str, str], known: list[int], tmp_path: Path
) -> None:
    viewer = tokens["viewer"]
    out = ok(metrics(live_server, viewer))
    assert "4 incidents detected 2026-02-01 09:00 – 2026-03-03 09:00 UTC" in out
    assert "SEV-1: 1, SEV-2: 2, SEV-3: 1" in out
    assert "4m / 3m / 8m (4)" in out  # MTTA mean / p50 / p90 (count)
    assert "Overdue: 0 postmortems, 0 action items" in out

    body = json.loads(ok(metrics(live_server, viewer, "--severity", "SEV-2", "--json")))
    assert body["total"] == 2 and body["period"]["severity"] == ["SEV-2"]
    body = json.loads(ok(metrics(live_server, viewer, "--since", "60d", "--json")))
    assert body["total"] == 5

    target = tmp_path / "out.csv"
    out = ok(metrics(live_server, viewer, "--service", "checkout", "--csv", str(target)))
    assert out.strip() == f"Wrote 2 incidents to {target}"
    rows = list(csv.DictReader(target.open(newline="")))
    assert [r["ref"] for r in rows] == ["INC-1", "INC-2"]
    assert rows[1]["time_to_resolve_s"] == "3600"


def test_overdue_action_items_are_listed(
    live_server: str, tokens: dict[str, str], known: list[int]
) -> None:
    import httpx

    # INC-2 (SEV-2, resolved) gets an action item that was due yesterday.
    answer = httpx.post(
        f"{live_server}/api/v1/incidents/INC-{known[1]}/postmortem/action-items",
        json={
            "kind": "short_term",
            "title": "Add a canary stage",
            "owner": "bob",
            "due_date": "2026-03-01",
        },
        headers={"Authorization": f"Bearer {tokens['responder']}"},
    )
    assert answer.status_code == 201, answer.text
    out = ok(metrics(live_server, tokens["viewer"]))
    assert "Overdue: 0 postmortems, 1 action items" in out
    assert "Overdue action items" in out and "Overdue postmortems" not in out
    row = next(line for line in out.splitlines() if "Add a canary stage" in line)
    assert f"INC-{known[1]}" in row and "bob" in row and "2026-03-01" in row


def test_bad_values_are_one_error_line(
    live_server: str, tokens: dict[str, str], known: list[int], tmp_path: Path
) -> None:
    viewer = tokens["viewer"]
    line = error(metrics(live_server, viewer, "--since", "last week"))
    assert "neither a duration" in line
    target = tmp_path / "never.csv"
    line = error(metrics(live_server, viewer, "--severity", "SEV-9", "--csv", str(target)))
    assert "unknown severity SEV-9" in line
    assert not target.exists()  # nothing half-written
    assert "WARROOM_TOKEN" in error(metrics(live_server, "wrong"))
    missing = tmp_path / "no" / "such" / "dir.csv"
    assert "cannot write" in error(metrics(live_server, viewer, "--csv", str(missing)))
