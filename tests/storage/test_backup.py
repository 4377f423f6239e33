"""`warroom backup` and `warroom restore`: a round trip on SQLite and PostgreSQL (issue 17)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.conftest import make_token
from warroom.app import build_runtime
from warroom.audit.models import AuditEntry
from warroom.cli.main import app
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident, TimelineEvent
from warroom.runtime import Runtime
from warroom.settings import Settings
from warroom.storage import backup

runner = CliRunner()
ACTOR = Actor(name="tester", source="api")


def counts(runtime: Runtime) -> dict[str, int]:
    """Return how many incidents, timeline events and audit entries the database holds."""
    with runtime.db.session() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Incident, TimelineEvent, AuditEntry)
        }


def seed(runtime: Runtime, client: TestClient) -> bytes:
    """Two incidents with notes, and one evidence file; return the file's bytes."""
    runtime.flows.declare(actor=ACTOR, title="Checkout down", severity="SEV-1")
    runtime.flows.declare(actor=ACTOR, title="Card data exposed", incident_type="security")
    runtime.flows.note("1", text="rolled back", actor=ACTOR)
    token = make_token(runtime, "ada", "admin")
    data = os.urandom(50_000)
    answer = client.post(
        "/api/v1/incidents/INC-2/evidence",
        files={"file": ("capture.pcap", data, "application/octet-stream")},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    return data


def test_a_round_trip_keeps_every_row_file_and_the_chain(
    runtime: Runtime, client: TestClient, env: dict[str, str], tmp_path: Path, settings: Settings
) -> None:
    data = seed(runtime, client)
    before = counts(runtime)
    archive = tmp_path / "warroom.backup"
    made = runner.invoke(app, ["backup", str(archive)], env=env)
    assert made.exit_code == 0, (made.stdout, made.stderr)
    assert "1 evidence files" in made.stdout and oct(archive.stat().st_mode & 0o777) == "0o600"
    manifest = backup.read_manifest(archive)
    assert manifest["backend"] == ("sqlite" if runtime.db.is_sqlite else "postgresql")
    names = set(backup.members(archive))
    digest = hashlib.sha256(data).hexdigest()
    assert any(name.startswith("evidence/") and name.endswith(digest) for name in names)

    # Life goes on after the backup: a new incident, a lost evidence file, a lost runbook file.
    runtime.flows.declare(actor=ACTOR, title="After the backup", severity="SEV-3")
    store = settings.data_dir / "evidence"
    for path in [p for p in store.rglob("*") if p.is_file()]:
        path.unlink()
    for path in settings.runbooks_dir.glob("active/*.md"):
        path.unlink()
    runtime.db.dispose()

    restored = runner.invoke(app, ["restore", str(archive), "--yes"], env=env)
    assert restored.exit_code == 0, (restored.stdout, restored.stderr)
    assert "audit log intact" in restored.stdout

    again = build_runtime(settings, config=runtime.config(), upgrade=False)
    try:
        after = counts(again)
        # The backup's own entry (backup.create) came after its snapshot; the restore adds one.
        assert after == before | {"audit_log": before["audit_log"] + 1}
        with again.db.session() as session:
            last = session.execute(
                select(AuditEntry.action, AuditEntry.target).order_by(AuditEntry.seq.desc())
            ).first()
        assert last is not None and tuple(last) == ("backup.restore", archive.name)
        with again.db.session() as session:
            titles = session.scalars(select(Incident.title).order_by(Incident.number)).all()
        assert titles == ["Checkout down", "Card data exposed"]
        [item] = again.evidence.items("INC-2")
        assert item.sha256 == digest
        kept = [p for p in store.rglob("*") if p.is_file()]
        assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in kept] == [digest]
        assert oct(kept[0].stat().st_mode & 0o777) == "0o600"
        assert len(list(settings.runbooks_dir.glob("active/*.md"))) == 2  # written again
    finally:
        again.close()


def test_a_damaged_archive_changes_nothing(
    runtime: Runtime, client: TestClient, env: dict[str, str], tmp_path: Path
) -> None:
    seed(runtime, client)
    archive = tmp_path / "warroom.backup"
    assert runner.invoke(app, ["backup", str(archive)], env=env).exit_code == 0
    damaged = tmp_path / "damaged.backup"
    with tarfile.open(archive) as source, tarfile.open(damaged, "w") as target:
        for member in source.getmembers():
            handle = source.extractfile(member)
            body = handle.read() if handle else b""
            if member.name.startswith("evidence/"):
                # One byte changed: flipped, since a random file starts with "X" once in 256.
                body = bytes([body[0] ^ 0xFF]) + body[1:]
            member.size = len(body)
            target.addfile(member, io.BytesIO(body))
    runtime.flows.declare(actor=ACTOR, title="After the backup", severity="SEV-3")
    before = counts(runtime)
    refused = runner.invoke(app, ["restore", str(damaged), "--yes"], env=env)
    assert refused.exit_code == 1
    assert "does not match its manifest: the archive is damaged" in refused.stderr
    assert counts(runtime) == before  # nothing was replaced
    not_one = tmp_path / "notes.txt"
    not_one.write_text("hello")
    wrong = runner.invoke(app, ["restore", str(not_one), "--yes"], env=env)
    assert wrong.exit_code == 1 and "is not a warroom backup" in wrong.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_backup_restores_only_into_its_own_kind_of_database(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    archive = tmp_path / "warroom.backup"
    assert runner.invoke(app, ["backup", str(archive)], env=env).exit_code == 0
    elsewhere = env | {"WARROOM_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1/none"}
    refused = runner.invoke(app, ["restore", str(archive), "--yes"], env=elsewhere)
    assert refused.exit_code == 1
    assert "is a sqlite backup and the database is postgresql" in refused.stderr


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_without_pg_dump_the_portable_form_round_trips(
    runtime: Runtime, client: TestClient, env: dict[str, str], tmp_path: Path, settings: Settings
) -> None:
    seed(runtime, client)
    before = counts(runtime)
    bare = env | {"PATH": str(tmp_path / "no-tools")}  # no pg_dump, no pg_restore
    archive = tmp_path / "warroom.backup"
    made = runner.invoke(app, ["backup", str(archive)], env=bare)
    assert made.exit_code == 0, (made.stdout, made.stderr)
    assert "no pg_dump here: the portable form" in made.stderr
    manifest = backup.read_manifest(archive)
    assert (manifest["backend"], manifest["form"]) == ("postgresql", "portable")
    runtime.flows.declare(actor=ACTOR, title="After the backup", severity="SEV-3")
    runtime.db.dispose()
    restored = runner.invoke(app, ["restore", str(archive), "--yes"], env=bare)
    assert restored.exit_code == 0, (restored.stdout, restored.stderr)
    again = build_runtime(settings, config=runtime.config(), upgrade=False)
    try:
        assert counts(again) == before | {"audit_log": before["audit_log"] + 1}
        fourth = again.flows.declare(actor=ACTOR, title="Numbers go on", severity="SEV-3")
        assert fourth.ref == "INC-3"  # the sequences and the counter came back too
    finally:
        again.close()
