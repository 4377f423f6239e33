"""`warroom demo`: the runbook's two examples replayed through the HTTP API."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import frontmatter
import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import TEMPLATES, free_port
from warroom.cli.main import app
from warroom.runtime import Runtime

runner = CliRunner()
MILESTONES = ("detected_at", "acknowledged_at", "triaged_at", "mitigated_at", "resolved_at")


def remote_env(live_server: str, token: str) -> dict[str, str]:
    """Environment pointing the CLI at the live server."""
    return {"WARROOM_URL": live_server, "WARROOM_TOKEN": token}


def fetch(live_server: str, token: str, ref: str) -> dict[str, Any]:
    """GET an incident through the API."""
    response = httpx.get(
        f"{live_server}/api/v1/incidents/{ref}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def one_file(folder: Path, number: int) -> Path:
    """Return the single runbook file of incident `number` in `folder`."""
    found = list(folder.glob(f"INC-{number}-*.md"))
    assert len(found) == 1, f"expected one INC-{number}-*.md in {folder}: {found}"
    return found[0]


def check_example_1(incident: dict[str, Any]) -> None:
    """Assert the facts of Example 1 (High CPU usage)."""
    assert incident["title"] == "High CPU usage on checkout"
    assert incident["status"] == "closed"
    assert incident["severity"] == "SEV-2"
    assert incident["incident_type"] == "resource-saturation"
    assert incident["service"] == "checkout"
    assert incident["commander"] == "alice"
    assert incident["priority"] == "P2"
    assert incident["impact"]
    assert incident["scope"]
    assert "HighCPUUsage" in incident["summary"]
    assert all(incident[name] for name in (*MILESTONES, "closed_at"))
    texts = [event["text"] for event in incident["timeline"]]
    assert "Rolled back checkout to the previous version" in texts
    assert "Development team notified in Slack #incident-response" in texts
    leak = next(e for e in incident["timeline"] if "memory leak in a new feature" in e["text"])
    assert leak["key_event"]
    alert = next(e for e in incident["timeline"] if e["text"].startswith("Prometheus alert"))
    assert alert["key_event"]
    assert any("on-call engineer is the IC" in text for text in texts)
    assert [e["kind"] for e in incident["timeline"] if e["kind"] != "note"][-1] == "closed"


def check_example_2(incident: dict[str, Any]) -> None:
    """Assert the facts of Example 2 (data breach), left mitigated."""
    assert incident["title"] == "Customer reports their account data was compromised"
    assert incident["status"] == "mitigated"
    assert incident["severity"] == "SEV-1"
    assert incident["visibility"] == "restricted"
    assert incident["incident_type"] == "security"
    assert incident["commander"] == "bob"
    assert incident["priority"] == "P1"
    assert incident["resolved_at"] is None
    assert all(incident[name] for name in MILESTONES[:4])
    texts = [event["text"] for event in incident["timeline"]]
    assert "Executive team notified by email" in texts
    assert "Disabled the affected user's account" in texts
    assert texts[-1] == "Postmortem in progress: suspected SQL injection in the search endpoint"
    assert any(text.startswith("User report") for text in texts)


def check_files(runtime_active: Path, runtime_archive: Path, closed: int, mitigated: int) -> None:
    """Assert the closed incident's file is archived and the mitigated one's is active."""
    archived = one_file(runtime_archive, closed)
    active = one_file(runtime_active, mitigated)
    assert frontmatter.load(str(archived))["status"] == "closed"
    assert frontmatter.load(str(active))["status"] == "mitigated"
    assert not list(runtime_active.glob(f"INC-{closed}-*.md"))
    assert not list(runtime_archive.glob(f"INC-{mitigated}-*.md"))


def test_demo_against_a_server(live_server: str, tokens: dict[str, str], runtime: Runtime) -> None:
    token = tokens["responder"]
    result = runner.invoke(app, ["demo"], env=remote_env(live_server, token))
    assert result.exit_code == 0, result.output
    assert "INC-1" in result.stdout
    assert "INC-2" in result.stdout
    assert "✓ INC-1 Triage: assessed: SEV-2, P2 (alice, on call, is Incident Commander)" in (
        result.stdout
    )

    listed = httpx.get(
        f"{live_server}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"}
    ).json()["items"]
    assert sorted(item["ref"] for item in listed) == ["INC-1", "INC-2"]
    first, second = fetch(live_server, token, "INC-1"), fetch(live_server, token, "INC-2")
    check_example_1(first)
    check_example_2(second)
    for incident in (first, second):
        events = incident["timeline"]
        assert {e["source"] for e in events} == {"demo"}
        assert {e["actor"] for e in events} == {"rita"}
    check_files(runtime.runbooks.active, runtime.runbooks.archive, closed=1, mitigated=2)


def test_demo_twice_creates_two_more_incidents(
    live_server: str, tokens: dict[str, str], runtime: Runtime
) -> None:
    env = remote_env(live_server, tokens["responder"])
    assert runner.invoke(app, ["demo"], env=env).exit_code == 0
    result = runner.invoke(app, ["demo", "--json"], env=env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["target"] == live_server
    assert [(i["ref"], i["status"]) for i in summary["incidents"]] == [
        ("INC-3", "closed"),
        ("INC-4", "mitigated"),
    ]
    assert all(i["runbook_file"] is None for i in summary["incidents"])
    check_example_1(fetch(live_server, tokens["responder"], "INC-3"))
    check_example_2(fetch(live_server, tokens["responder"], "INC-4"))
    check_files(runtime.runbooks.active, runtime.runbooks.archive, closed=3, mitigated=4)


def test_demo_with_url_and_token_options(
    live_server: str, tokens: dict[str, str], runtime: Runtime
) -> None:
    result = runner.invoke(
        app,
        ["demo", "--url", live_server, "--token", tokens["responder"]],
        env={"WARROOM_URL": None, "WARROOM_TOKEN": None},
    )
    assert result.exit_code == 0, result.output
    check_files(runtime.runbooks.active, runtime.runbooks.archive, closed=1, mitigated=2)


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """Environment for `--local`: a fresh SQLite file and runbook folder under tmp_path."""
    monkeypatch.chdir(tmp_path)  # no stray ./warroom.yaml is picked up
    root = tmp_path / "runbooks"
    shutil.copytree(TEMPLATES, root / "templates")
    return {
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(root),
        "WARROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "WARROOM_CONFIG": None,
        "WARROOM_URL": None,
        "WARROOM_TOKEN": None,
    }


def test_demo_local(local_env: dict[str, str | None]) -> None:
    root = Path(str(local_env["WARROOM_RUNBOOKS_DIR"]))
    result = runner.invoke(app, ["demo", "--local"], env=local_env)
    assert result.exit_code == 0, result.output
    assert "archive/INC-1-high-cpu-usage-on-checkout.md" in result.stdout
    assert "active/INC-2-" in result.stdout
    check_files(root / "active", root / "archive", closed=1, mitigated=2)
    text = one_file(root / "archive", 1).read_text()
    assert "Root cause: a memory leak in a new feature" in text
    assert "| demo |" in text  # the acting user is `demo`


def test_demo_local_twice_reuses_the_demo_user(local_env: dict[str, str | None]) -> None:
    root = Path(str(local_env["WARROOM_RUNBOOKS_DIR"]))
    # Without a token the demo runs locally even when --local is not given.
    assert runner.invoke(app, ["demo"], env=local_env).exit_code == 0
    result = runner.invoke(app, ["demo", "--local", "--json"], env=local_env)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["target"] == "local"
    refs = [(i["ref"], i["status"], i["visibility"]) for i in summary["incidents"]]
    assert refs == [("INC-3", "closed", "public"), ("INC-4", "mitigated", "restricted")]
    files = [Path(i["runbook_file"]) for i in summary["incidents"]]
    assert files[0].parent == (root / "archive").resolve()
    assert files[1].parent == (root / "active").resolve()
    assert all(path.exists() for path in files)
    check_files(root / "active", root / "archive", closed=1, mitigated=2)
    check_files(root / "active", root / "archive", closed=3, mitigated=4)


def test_demo_local_refuses_a_demo_user_without_the_responder_role(
    local_env: dict[str, str | None],
) -> None:
    created = runner.invoke(app, ["users", "create", "demo", "--role", "viewer"], env=local_env)
    assert created.exit_code == 0, created.output
    result = runner.invoke(app, ["demo", "--local"], env=local_env)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: user 'demo' is a viewer; the demo needs a responder"
    assert not list((Path(str(local_env["WARROOM_RUNBOOKS_DIR"])) / "active").glob("*.md"))


def test_viewer_token_is_one_error_line(
    live_server: str, tokens: dict[str, str], runtime: Runtime
) -> None:
    result = runner.invoke(app, ["demo"], env=remote_env(live_server, tokens["viewer"]))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: Example 1: High CPU Usage: declare: ")
    assert "responder" in lines[0]
    assert not list(runtime.runbooks.active.glob("*.md"))


def test_unreachable_server_is_one_error_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["demo", "--url", url, "--token", "wr_nothing"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert f"cannot reach {url}" in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--local", "--token", "x"], "--local runs on the local database"),
        (["--url", "http://127.0.0.1:1"], "--url needs a token"),
    ],
)
def test_conflicting_options(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["demo", *args], env={"WARROOM_TOKEN": None})
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {message}")
