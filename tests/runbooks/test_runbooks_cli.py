"""`warroom runbooks lint` and `warroom runbooks sync`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from tests.conftest import SHARED, TEMPLATES, need
from tests.helpers import verify
from warroom.cli.main import app
from warroom.incidents.schemas import IncidentDetail
from warroom.runbooks.document import render
from warroom.runbooks.templates import split_front_matter
from warroom.runtime import Runtime

USER_RUNBOOK = SHARED / "seed" / "incident-response-runbook.md"
SECTIONS = (
    "## Containment\n\n- Contain.\n\n"
    "## Remediation\n\n- Remediate.\n\n"
    "## Verification\n\n- Verify.\n"
)


@pytest.fixture(autouse=True)
def _elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty folder, so a ./warroom.yaml of the checkout is not picked up."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


def run(args: list[str], **env: str | None) -> Result:
    """Run the warroom CLI with a clean WARROOM_CONFIG unless given."""
    env.setdefault("WARROOM_CONFIG", None)
    return CliRunner().invoke(app, args, env=env)


def templates_with(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.md").write_text(text, encoding="utf-8")
    return folder


# --- lint ---------------------------------------------------------------------------------


def test_lint_shipped_templates_is_clean() -> None:
    result = run(["runbooks", "lint", str(TEMPLATES)])

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "3 templates, 0 errors, 0 warnings" in result.stderr


def test_lint_users_runbook_as_a_template(tmp_path: Path) -> None:
    need(USER_RUNBOOK.is_file(), f"the user's runbook is absent at {USER_RUNBOOK}")
    folder = tmp_path / "templates"
    folder.mkdir()
    shutil.copy(USER_RUNBOOK, folder / USER_RUNBOOK.name)

    result = run(["runbooks", "lint", str(folder)])

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "1 templates, 0 errors, 0 warnings" in result.stderr


def test_lint_errors_print_file_line_message_and_exit_1(tmp_path: Path) -> None:
    folder = templates_with(
        tmp_path,
        good="---\ntitle: Good\n---\n\n" + SECTIONS,
        nofm="# No front matter\n\n" + SECTIONS,
        list="---\n- a\n---\n\n# L\n\n" + SECTIONS,
        types="---\ntitle: T\nowner: [a, b]\nsurprise: 1\n---\n\n" + SECTIONS,
        noverify=(
            "---\ntitle: T\n---\n\n"  # body starts on line 4
            "## Containment\n\n- C.\n\n"
            "## Remediation\n\nprose\n"  # line 9
        ),
    )

    result = run(["runbooks", "lint", str(folder)])

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{folder / 'list.md'}:2: front matter must be a mapping of keys to values",
        f"{folder / 'nofm.md'}:1: no YAML front matter: start the file with a --- block",
        f"{folder / 'noverify.md'}:4: no 'Verification' section: the checklist needs one",
        f"{folder / 'noverify.md'}:9: 'Remediation' has no list items to check off",
        f"{folder / 'types.md'}:3: front matter 'owner' must be a str",
        f"{folder / 'types.md'}:4: warning: unknown front matter key 'surprise'",
    ]
    assert "5 templates, 5 errors, 1 warnings" in result.stderr


def test_lint_warnings_alone_exit_0(tmp_path: Path) -> None:
    folder = templates_with(
        tmp_path,
        warn="---\ntitle: W\nincident_types: [nope]\nauthor: me\n---\n\n" + SECTIONS,
    )

    result = run(["runbooks", "lint", str(folder)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{folder / 'warn.md'}:3: warning: incident type 'nope' is not in warroom.yaml",
        f"{folder / 'warn.md'}:4: warning: unknown front matter key 'author'",
    ]
    assert "1 templates, 0 errors, 2 warnings" in result.stderr


def test_lint_checks_incident_types_against_warroom_yaml(tmp_path: Path) -> None:
    folder = templates_with(
        tmp_path, net="---\ntitle: N\nincident_types: [network]\n---\n\n" + SECTIONS
    )
    config = tmp_path / "warroom.yaml"
    config.write_text("incident_types:\n  - {id: network, template: net}\n", encoding="utf-8")

    with_config = run(["runbooks", "lint", str(folder)], WARROOM_CONFIG=str(config))
    without = run(["runbooks", "lint", str(folder)])

    assert (with_config.exit_code, with_config.stdout) == (0, "")
    assert "'network' is not in warroom.yaml" in without.stdout


def test_lint_defaults_to_the_runbooks_dir_templates(tmp_path: Path) -> None:
    root = tmp_path / "runbooks"
    shutil.copytree(TEMPLATES, root / "templates")
    (root / "templates" / "broken.md").write_text("no front matter\n", encoding="utf-8")

    result = run(["runbooks", "lint"], WARROOM_RUNBOOKS_DIR=str(root))

    assert result.exit_code == 1
    assert f"{root / 'templates' / 'broken.md'}:1: no YAML front matter" in result.stdout
    assert "4 templates" in result.stderr


def test_lint_missing_folder_exits_1(tmp_path: Path) -> None:
    result = run(["runbooks", "lint", str(tmp_path / "absent")])

    assert result.exit_code == 1
    assert f"{tmp_path / 'absent'} is not a directory" in result.stderr


def test_lint_bad_warroom_yaml_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "warroom.yaml"
    config.write_text("incident_types: [\n", encoding="utf-8")

    result = run(["runbooks", "lint", str(TEMPLATES)], WARROOM_CONFIG=str(config))

    assert result.exit_code == 1
    assert f"{config}:" in result.stderr


# --- sync -----------------------------------------------------------------------------------


def front_matter(path: Path) -> dict[str, Any]:
    raw, _, _ = split_front_matter(path.read_text(encoding="utf-8"))
    assert raw is not None
    meta = yaml.safe_load(raw)
    assert isinstance(meta, dict)
    return meta


def test_sync_rewrites_every_file_after_the_folder_is_fixed(
    api: TestClient,
    client: TestClient,
    runtime: Runtime,
    tokens: dict[str, str],
    database_url: str,
    tmp_path: Path,
) -> None:
    root = runtime.runbooks.root
    env = {
        "WARROOM_DATABASE_URL": database_url,
        "WARROOM_RUNBOOKS_DIR": str(root),
        "WARROOM_DATA_DIR": str(tmp_path / "cli-data"),
    }
    active = root / "active"
    first, second = active / "INC-1-checkout-is-down.md", root / "archive" / "INC-2-search-slow.md"
    # Tests run as root, for whom chmod changes nothing: make active/ a file instead.
    shutil.rmtree(active)
    active.write_text("not a folder\n", encoding="utf-8")

    for title in ("Checkout is down", "Search slow"):
        response = api.post("/api/v1/incidents", json={"title": title})
        assert response.status_code == 201, response.text
    assert api.post("/api/v1/incidents/1/acknowledge").status_code == 200
    verify(api, "INC-2")
    assert api.post("/api/v1/incidents/2/resolve").status_code == 200
    # archive/ was writable; make its copy stale to see sync rewrite it too.
    second.write_text("stale\n", encoding="utf-8")

    ready = client.get("/readyz", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert ready.status_code == 503
    check = ready.json()["checks"]["runbooks"]
    assert check["ok"] is False
    assert any(str(active) in p and "not writable" in p for p in check["problems"]), check
    assert any(p.startswith("INC-1: cannot write") for p in check["problems"]), check

    # While the folder is still broken, sync says so and fails.
    broken = run(["runbooks", "sync"], **env)
    assert broken.exit_code == 1
    assert "1 files written, 1 failed" in broken.stdout
    assert f"{active} is not writable" in broken.stderr

    active.unlink()
    active.mkdir()
    result = run(["runbooks", "sync"], **env)

    assert result.exit_code == 0, result.output
    assert f"2 files written, 0 failed, under {root}" in result.stdout
    assert result.stderr == ""
    assert sorted(p.name for p in active.iterdir()) == [first.name]
    assert sorted(p.name for p in second.parent.iterdir()) == [second.name]
    for number, path, severity in ((1, first, "Medium"), (2, second, "Medium")):
        detail = IncidentDetail.model_validate(api.get(f"/api/v1/incidents/{number}").json())
        assert path.read_text(encoding="utf-8") == render(detail, severity)
    meta = front_matter(first)
    assert meta["status"] == "detected"
    assert meta["milestones"]["acknowledged_at"] == "2026-03-02T09:00:00Z"
    assert front_matter(second)["status"] == "resolved"

    # The server sees the files were rewritten and is ready again.
    assert client.get("/readyz").status_code == 200


def test_sync_with_no_incidents(runtime: Runtime, database_url: str, tmp_path: Path) -> None:
    result = run(
        ["runbooks", "sync"],
        WARROOM_DATABASE_URL=database_url,
        WARROOM_RUNBOOKS_DIR=str(runtime.runbooks.root),
        WARROOM_DATA_DIR=str(tmp_path / "cli-data"),
    )

    assert result.exit_code == 0, result.output
    assert "0 files written, 0 failed" in result.stdout
    assert list(runtime.runbooks.active.iterdir()) == []
