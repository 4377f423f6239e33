"""The runbook directory: choosing a template, and the incident files in active/ and archive/."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from tests.conftest import TEMPLATES
from tests.helpers import finish_postmortem, verify
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.core.errors import Invalid
from warroom.incidents.config import IncidentTypeConfig, ServiceConfig
from warroom.incidents.schemas import IncidentDetail
from warroom.runbooks import directory as directory_module
from warroom.runbooks.directory import RunbookDirectory
from warroom.runbooks.document import render
from warroom.runbooks.templates import FALLBACK_CHECKLIST, parse_template, split_front_matter
from warroom.runtime import Runtime

SLUG = "checkout-is-down"
NAME = f"INC-1-{SLUG}.md"


# --- choosing a template ---------------------------------------------------------------------


@pytest.fixture
def directory(tmp_path: Path) -> RunbookDirectory:
    """A directory holding the shipped templates (generic, resource-saturation, security-breach)."""
    root = tmp_path / "runbooks"
    shutil.copytree(TEMPLATES, root / "templates")
    return RunbookDirectory(root)


@pytest.fixture
def org() -> WarroomConfig:
    """The default incident types plus services with and without their own runbook."""
    return WarroomConfig(
        incident_types=[
            IncidentTypeConfig(id="default", template="generic"),
            IncidentTypeConfig(id="resource-saturation", template="resource-saturation"),
            IncidentTypeConfig(id="security", template="security-breach"),
            IncidentTypeConfig(id="network", template="no-such-template"),
            IncidentTypeConfig(id="untemplated"),
        ],
        services=[
            ServiceConfig(id="checkout", runbook="resource-saturation"),
            ServiceConfig(id="search", runbook="no-such-template"),
            ServiceConfig(id="mail"),
        ],
    )


def checklist_of(directory: RunbookDirectory, name: str) -> list[tuple[str, str]]:
    return parse_template(directory.templates / f"{name}.md").checklist


def test_explicit_runbook_wins_over_service_and_type(
    directory: RunbookDirectory, org: WarroomConfig
) -> None:
    chosen = directory.choose_template(
        org, runbook="security-breach", incident_type="resource-saturation", service="checkout"
    )

    assert chosen.name == "security-breach"
    assert chosen.checklist == checklist_of(directory, "security-breach")
    assert (chosen.owner, chosen.module) == ("security-team", "security")


def test_service_runbook_wins_over_incident_type(
    directory: RunbookDirectory, org: WarroomConfig
) -> None:
    chosen = directory.choose_template(
        org, runbook=None, incident_type="security", service="checkout"
    )

    assert chosen.name == "resource-saturation"
    assert chosen.checklist == checklist_of(directory, "resource-saturation")
    assert (chosen.owner, chosen.module) == ("sre", "capacity")


@pytest.mark.parametrize("service", [None, "mail", "search", "unknown-service"])
def test_incident_type_template_when_the_service_has_none(
    directory: RunbookDirectory, org: WarroomConfig, service: str | None
) -> None:
    chosen = directory.choose_template(org, runbook=None, incident_type="security", service=service)

    assert chosen.name == "security-breach"
    assert [s for s, _ in chosen.checklist].count("Eradication") == 2


@pytest.mark.parametrize("incident_type", [None, "network", "untemplated", "not-configured"])
def test_generic_when_the_type_has_no_usable_template(
    directory: RunbookDirectory, org: WarroomConfig, incident_type: str | None
) -> None:
    chosen = directory.choose_template(org, runbook=None, incident_type=incident_type, service=None)

    assert chosen.name == "generic"
    assert chosen.checklist == checklist_of(directory, "generic")
    assert (chosen.owner, chosen.module) == ("incident-response", "general")


def test_built_in_checklist_when_the_templates_folder_is_empty(
    directory: RunbookDirectory, org: WarroomConfig
) -> None:
    for path in directory.templates.iterdir():
        path.unlink()

    chosen = directory.choose_template(
        org, runbook=None, incident_type="security", service="checkout"
    )

    assert chosen.name is None
    assert chosen.checklist == list(FALLBACK_CHECKLIST)
    assert (chosen.owner, chosen.module) == (None, None)


def test_built_in_checklist_when_the_templates_folder_is_missing(tmp_path: Path) -> None:
    directory = RunbookDirectory(tmp_path / "nowhere")
    chosen = directory.choose_template(
        WarroomConfig(), runbook=None, incident_type=None, service=None
    )

    assert chosen.name is None
    assert chosen.checklist == list(FALLBACK_CHECKLIST)


def test_template_without_items_keeps_its_name_but_uses_the_built_in_checklist(
    directory: RunbookDirectory, org: WarroomConfig
) -> None:
    (directory.templates / "generic.md").write_text(
        "---\ntitle: Empty\nowner: me\n---\n\n# Empty\n\nNo lists at all.\n", encoding="utf-8"
    )

    chosen = directory.choose_template(org, runbook=None, incident_type=None, service=None)

    assert chosen.name == "generic"
    assert chosen.checklist == list(FALLBACK_CHECKLIST)
    assert chosen.owner == "me"


@pytest.mark.parametrize("name", ["no-such-template", "../templates/generic", ".generic"])
def test_unknown_explicit_runbook_is_invalid(
    directory: RunbookDirectory, org: WarroomConfig, name: str
) -> None:
    with pytest.raises(Invalid) as caught:
        directory.choose_template(org, runbook=name, incident_type=None, service="checkout")

    assert caught.value.details == {"field": "runbook"}
    assert repr(name) in caught.value.message


# --- the incident's file, through the API -----------------------------------------------------


def read_file(path: Path) -> tuple[dict[str, Any], str]:
    """Return the front matter (parsed with yaml) and the body of an incident file."""
    raw, body, _ = split_front_matter(path.read_text(encoding="utf-8"))
    assert raw is not None, f"{path} has no front matter"
    meta = yaml.safe_load(raw)
    assert isinstance(meta, dict)
    return meta, body


def stray_files(root: Path) -> list[str]:
    """Return every file under active/ and archive/ that is not an incident file."""
    return sorted(
        str(p.relative_to(root))
        for folder in ("active", "archive")
        for p in (root / folder).rglob("*")
        if not (p.is_file() and p.name.startswith("INC-") and p.suffix == ".md")
    )


def matches_database(api: TestClient, path: Path, severity_name: str) -> None:
    """Assert the file is exactly the rendering of the incident as the API shows it now."""
    detail = IncidentDetail.model_validate(api.get("/api/v1/incidents/1").json())
    assert path.read_text(encoding="utf-8") == render(detail, severity_name)


def declare(api: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"title": "Checkout is down", "severity": "SEV-2", **fields}
    response = api.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_declaring_writes_the_active_file(api: TestClient, runtime: Runtime) -> None:
    declare(api, commander="rita", summary="Payments fail with 500.")
    root = runtime.runbooks.root
    path = root / "active" / NAME

    assert path.is_file()
    meta, body = read_file(path)
    assert meta["number"] == "INC-1"
    assert meta["title"] == "Checkout is down"
    assert meta["status"] == "detected"
    assert meta["severity"] == "SEV-2"
    assert meta["commander"] == "rita"
    assert meta["type"] == "default"
    assert meta["owner"] == "incident-response"
    assert meta["module"] == "general"
    assert meta["template"] == "generic"
    assert meta["milestones"]["detected_at"] == "2026-03-02T09:00:00Z"
    assert meta["milestones"]["resolved_at"] is None
    assert set(meta["milestones"]) == {
        "started_at",
        "detected_at",
        "acknowledged_at",
        "triaged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
    }

    assert "# INC-1: Checkout is down" in body
    assert "**Severity:** SEV-2 (High)" in body
    assert "Payments fail with 500." in body
    assert "## Checklist (0/8)" in body
    generic = parse_template(runtime.runbooks.templates / "generic.md").checklist
    for section in ("Containment", "Remediation", "Verification"):
        assert f"### {section}" in body
    for _, text in generic:
        assert f"- [ ] {text}\n" in body
    assert body.index("### Containment") < body.index("### Remediation")
    assert body.index("### Remediation") < body.index("### Verification")
    assert "## Timeline" in body
    # Key events are starred.
    assert "| 2026-03-02T09:00:00Z | ★ Declared INC-1 (SEV-2): Checkout is down | rita |" in body
    assert "| ★ rita is Incident Commander: named by rita when declaring | rita |" in body
    assert list((root / "archive").iterdir()) == []
    assert stray_files(root) == []


def test_declaring_from_a_type_uses_its_template(api: TestClient, runtime: Runtime) -> None:
    declare(api, title="Leaked keys", incident_type="security", severity=None)
    meta, body = read_file(runtime.runbooks.active / "INC-1-leaked-keys.md")

    assert (meta["type"], meta["template"]) == ("security", "security-breach")
    assert (meta["owner"], meta["module"], meta["severity"]) == (
        "security-team",
        "security",
        "SEV-1",
    )
    assert meta["visibility"] == "restricted"
    assert "## Checklist (0/11)" in body
    assert "### Eradication\n\n- [ ] Rotate" not in body  # items are in template order
    assert "### Eradication\n\n- [ ] Find and close the entry point" in body


def test_unknown_runbook_is_a_422_and_writes_nothing(api: TestClient, runtime: Runtime) -> None:
    response = api.post("/api/v1/incidents", json={"title": "X", "runbook": "nope"})

    assert response.status_code == 422, response.text
    assert list(runtime.runbooks.active.iterdir()) == []
    assert api.get("/api/v1/incidents").json()["items"] == []


def test_every_change_rewrites_the_file_and_resolving_archives_it(
    api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    root = runtime.runbooks.root
    active, archive = root / "active" / NAME, root / "archive" / NAME
    declare(api)
    matches_database(api, active, "High")

    clock.advance(timedelta(minutes=3))
    assert api.post("/api/v1/incidents/1/acknowledge").status_code == 200
    meta, _ = read_file(active)
    assert meta["milestones"]["acknowledged_at"] == "2026-03-02T09:03:00Z"
    matches_database(api, active, "High")

    clock.advance(timedelta(minutes=2))
    changes = {"commander": "rita", "impact": "No payments", "scope": "EU", "priority": "P1"}
    assert api.patch("/api/v1/incidents/1", json=changes).status_code == 200
    meta, body = read_file(active)
    assert meta["commander"] == "rita"
    assert "- **Impact:** No payments" in body
    assert "- **Priority:** P1" in body
    matches_database(api, active, "High")

    response = api.post("/api/v1/incidents/1/timeline", json={"text": "Rolled back v42"})
    assert response.status_code == 201
    assert "| Rolled back v42 | rita |" in active.read_text(encoding="utf-8")

    for action, status in (("triage", "triaged"), ("mitigate", "mitigated")):
        clock.advance(timedelta(minutes=5))
        assert api.post(f"/api/v1/incidents/1/{action}").status_code == 200
        assert read_file(active)[0]["status"] == status
        assert not archive.exists()

    clock.advance(timedelta(minutes=5))
    verify(api, "INC-1")
    assert api.post("/api/v1/incidents/1/resolve", json={"note": "all green"}).status_code == 200
    assert not active.exists()
    assert archive.is_file()
    meta, body = read_file(archive)
    assert meta["status"] == "resolved"
    assert meta["milestones"]["resolved_at"] == "2026-03-02T09:20:00Z"
    assert "Resolved (was mitigated): all green" in body
    matches_database(api, archive, "High")
    finish_postmortem(api, "INC-1")  # a SEV-2 closes only with its postmortem done

    clock.advance(timedelta(minutes=1))
    assert api.post("/api/v1/incidents/1/reopen").status_code == 200
    assert active.is_file()
    assert not archive.exists()
    meta, _ = read_file(active)
    assert meta["status"] == "triaged"
    assert meta["milestones"]["resolved_at"] is None

    assert verify(api, "INC-1") == 2  # reopening opened the Verification items again
    assert api.post("/api/v1/incidents/1/close").status_code == 200
    assert not active.exists()
    assert read_file(archive)[0]["status"] == "closed"
    matches_database(api, archive, "High")
    assert stray_files(root) == []


def test_each_incident_has_its_own_file(api: TestClient, runtime: Runtime) -> None:
    declare(api, title="First")
    declare(api, title="Second: the return!")
    verify(api, "INC-1")
    assert api.post("/api/v1/incidents/1/resolve").status_code == 200

    assert sorted(p.name for p in runtime.runbooks.active.iterdir()) == [
        "INC-2-second-the-return.md"
    ]
    assert sorted(p.name for p in runtime.runbooks.archive.iterdir()) == ["INC-1-first.md"]


def test_timeline_text_with_pipes_keeps_the_table_intact(api: TestClient, runtime: Runtime) -> None:
    declare(api, title="Grep | sort broke")
    text = "ran `a | b` and then\nc || d | e"
    assert api.post("/api/v1/incidents/1/timeline", json={"text": text}).status_code == 201

    document = (runtime.runbooks.active / "INC-1-grep-sort-broke.md").read_text(encoding="utf-8")
    _, body, _ = split_front_matter(document)
    tokens = MarkdownIt("commonmark").enable("table").parse(body)
    rows: list[list[str]] = []
    for index, token in enumerate(tokens):
        if token.type == "tr_open":
            rows.append([])
        elif token.type == "inline" and tokens[index - 1].type in ("th_open", "td_open"):
            rows[-1].append(token.content)

    assert rows[0] == ["Time (UTC)", "Event", "By"]
    assert all(len(row) == 3 for row in rows), rows
    events = [row[1] for row in rows[1:]]
    assert events == [
        "★ Declared INC-1 (SEV-2): Grep | sort broke",
        "★ rita is Incident Commander: the reporter (no on-call schedule or team lead for this"
        " service)",
        "ran `a | b` and then c || d | e",
    ]
    assert [row[2] for row in rows[1:]] == ["rita", "rita", "rita"]


# --- when the directory cannot be written ---------------------------------------------------


def break_folder(folder: Path) -> None:
    """Replace a folder with a regular file (chmod does not stop root, which runs the tests)."""
    shutil.rmtree(folder)
    folder.write_text("not a folder\n", encoding="utf-8")


def fix_folder(folder: Path) -> None:
    folder.unlink()
    folder.mkdir()


def test_unwritable_active_folder_does_not_fail_the_api(
    api: TestClient, client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    root = runtime.runbooks.root
    assert client.get("/readyz").status_code == 200
    break_folder(root / "active")

    response = api.post("/api/v1/incidents", json={"title": "Checkout is down"})
    assert response.status_code == 201, response.text
    assert api.post("/api/v1/incidents/1/acknowledge").status_code == 200
    assert api.get("/api/v1/incidents/1").json()["acknowledged_at"] is not None

    # The details (paths, problems) are for admins; anyone else sees the status alone.
    ready = client.get("/readyz", headers={"Authorization": f"Bearer {tokens['admin']}"})
    assert ready.status_code == 503
    check = ready.json()["checks"]["runbooks"]
    assert check["ok"] is False
    assert check["root"] == str(root)
    assert any(f"{root / 'active'} is not writable" in p for p in check["problems"]), check
    assert any(p.startswith("INC-1: cannot write") and NAME in p for p in check["problems"])
    assert ready.json()["checks"]["database"]["ok"] is True

    # Once the folder is back, the next change writes the file and readiness recovers.
    fix_folder(root / "active")
    assert api.post("/api/v1/incidents/1/timeline", json={"text": "fixed"}).status_code == 201
    meta, _ = read_file(root / "active" / NAME)
    assert meta["milestones"]["acknowledged_at"] == "2026-03-02T09:00:00Z"
    assert client.get("/readyz").status_code == 200
    assert stray_files(root) == []


def test_unwritable_archive_keeps_the_active_file(api: TestClient, runtime: Runtime) -> None:
    root = runtime.runbooks.root
    declare(api)
    verify(api, "INC-1")
    break_folder(root / "archive")

    assert api.post("/api/v1/incidents/1/resolve").status_code == 200

    # The move failed, so the last good copy stays in active/ rather than vanishing.
    assert read_file(root / "active" / NAME)[0]["status"] == "detected"
    assert api.get("/api/v1/incidents/1").json()["status"] == "resolved"
    assert runtime.runbooks.failures.keys() == {1}


def test_publish_skips_an_older_state(tmp_path: Path, api: TestClient, runtime: Runtime) -> None:
    declare(api)
    old = IncidentDetail.model_validate(api.get("/api/v1/incidents/1").json())
    assert api.post("/api/v1/incidents/1/acknowledge").status_code == 200
    path = runtime.runbooks.active / NAME
    newer = path.read_text(encoding="utf-8")

    # A slower request finishing late must not overwrite the newer file.
    assert runtime.runbooks.publish(old, "High") is True
    assert path.read_text(encoding="utf-8") == newer


def test_what_is_kept_per_incident_stays_bounded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: TestClient
) -> None:
    # A server writing incidents for months keeps a fixed number of locks and remembers the
    # newest write of the most recent incidents only (it grew with every incident: issue 17).
    monkeypatch.setattr(directory_module, "WRITTEN_LIMIT", 8)
    declare(api)
    detail = IncidentDetail.model_validate(api.get("/api/v1/incidents/1").json())
    runbooks = RunbookDirectory(tmp_path / "runbooks")

    for number in range(1, 51):
        assert runbooks.publish(detail.model_copy(update={"number": number}), "High") is True

    assert len(list(runbooks.active.iterdir())) == 50
    assert len(runbooks._locks) == directory_module.LOCK_STRIPES
    assert list(runbooks._written) == list(range(43, 51))  # the eight written last
    # A recent incident still refuses an older state.
    path = runbooks.active / f"INC-50-{SLUG}.md"
    newer = detail.model_copy(update={"number": 50, "status": "acknowledged"})
    assert runbooks.publish(newer.model_copy(update={"timeline": []}), "High") is True
    assert read_file(path)[0]["status"] == "detected"


def test_readyz_names_ten_unwritten_files_and_counts_the_rest(
    api: TestClient, client: TestClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    root = runtime.runbooks.root
    break_folder(root / "active")
    for n in range(12):
        assert api.post("/api/v1/incidents", json={"title": f"Down {n}"}).status_code == 201
    ready = client.get("/readyz", headers={"Authorization": f"Bearer {tokens['admin']}"})
    problems = ready.json()["checks"]["runbooks"]["problems"]
    named = [p for p in problems if p.startswith("INC-")]
    assert [p.split(":")[0] for p in named] == [f"INC-{n}" for n in range(1, 11)]
    assert problems[-1].startswith("… and 2 more incidents whose runbook file is not written")
    fix_folder(root / "active")


def test_a_file_is_replaced_whole_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    from warroom.runbooks.directory import _atomic_write

    target = tmp_path / "active" / "INC-1-x.md"
    _atomic_write(target, "first\n")
    _atomic_write(target, "second — ünïcode\n", 0o600)
    assert target.read_text(encoding="utf-8") == "second — ünïcode\n"
    assert (target.stat().st_mode & 0o777) == 0o600
    blocked = tmp_path / "active" / "INC-2-y.md"
    blocked.mkdir()  # a directory where the file should go: the rename fails
    with pytest.raises(IsADirectoryError):
        _atomic_write(blocked, "never\n")
    assert sorted(p.name for p in (tmp_path / "active").iterdir()) == ["INC-1-x.md", "INC-2-y.md"]


def test_restricted_text_never_goes_into_a_file_left_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temporary file of the same name left by a crash (0644, public text) is not reused:
    the restricted text goes into a new 0600 file."""
    import os
    import stat
    import threading

    from warroom.runbooks import directory

    target = tmp_path / "INC-5-db.md"
    stale = tmp_path / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    stale.write_text("old public text")
    stale.chmod(0o644)
    modes: list[int] = []
    real_write = os.write

    def watched(fd: int, data: bytes) -> int:
        modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_write(fd, data)

    monkeypatch.setattr(directory.os, "write", watched)
    directory._atomic_write(target, "RESTRICTED secret\n", 0o600)
    assert modes and all(mode == 0o600 for mode in modes), [oct(m) for m in modes]
    assert target.read_text() == "RESTRICTED secret\n"
    assert stale.read_text() == "old public text"  # never written into
