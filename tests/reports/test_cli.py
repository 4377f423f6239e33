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
