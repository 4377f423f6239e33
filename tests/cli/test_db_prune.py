"""`warroom db prune [--dry-run]` on both backends, with the retention of warroom.yaml."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from typer.testing import CliRunner

from tests.retention.test_retention import message
from warroom.audit.models import AuditEntry
from warroom.cli.main import app
from warroom.notify.models import Notification
from warroom.storage.db import Database


def test_prune_with_a_dry_run_first(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "warroom.yaml"
    config.write_text("retention:\n  notifications: 2d\n")
    env = env | {"WARROOM_CONFIG": str(config)}
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    now = datetime.now(UTC)
    db = Database(env["WARROOM_DATABASE_URL"])
    with db.transaction() as session:
        session.execute(
            insert(Notification),
            [message("old", now - timedelta(days=3), "sent"), message("new", now, "sent")],
        )

    dry = runner.invoke(app, ["db", "prune", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would be deleted" in dry.output
    assert re.search(r"notifications\s*│\s*2d\s*│\s*1\s*│", dry.output), dry.output
    with db.session() as session:
        assert set(session.scalars(select(Notification.key))) == {"old", "new"}

    done = runner.invoke(app, ["db", "prune"], env=env)
    assert done.exit_code == 0, done.output
    assert "deleted" in done.output and "would be" not in done.output
    with db.session() as session:
        assert set(session.scalars(select(Notification.key))) == {"new"}
        entry = session.execute(
            select(AuditEntry.action, AuditEntry.details, AuditEntry.actor)
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).one()
    assert entry.action == "db.prune"
    assert entry.details == {"notifications": 1} and entry.actor.startswith("os:")
    db.dispose()


def test_a_bad_database_url_is_one_line(env: dict[str, str]) -> None:
    runner = CliRunner()
    for url, said in (
        ("postgresql://u:hunter2@127.0.0.1:1/none", "cannot use the database at postgresql"),
        ("nonsense://x", "cannot use the database at nonsense://x: Can't load plugin"),
    ):
        result = runner.invoke(app, ["db", "prune"], env=env | {"WARROOM_DATABASE_URL": url})
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and said in result.output, result.output
        assert "hunter2" not in result.output and "Traceback" not in result.output


def test_sessions_that_ended_unrecorded_are_audited_by_who_pruned_them(
    env: dict[str, str],
) -> None:
    from tests.retention.test_retention import session_row
    from warroom.auth import service as auth
    from warroom.auth.sessions import BrowserSession

    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    long_ago = datetime.now(UTC) - timedelta(days=40)
    db = Database(env["WARROOM_DATABASE_URL"])
    with db.transaction() as session:
        user = auth.create_user(session, name="alice", role="responder", now=long_ago).id
        session.execute(insert(BrowserSession), [session_row(user, "a" * 64, long_ago)])

    done = runner.invoke(app, ["db", "prune"], env=env)
    assert done.exit_code == 0, done.output
    with db.session() as session:
        entries = session.execute(
            select(AuditEntry.action, AuditEntry.actor, AuditEntry.details)
            .order_by(AuditEntry.seq.desc())
            .limit(2)
        ).all()
    pruned, summary = entries[1], entries[0]
    assert pruned.action == "session.pruned" and pruned.details["count"] == 1
    assert summary.action == "db.prune" and summary.details == {"sessions": 1}
    assert pruned.actor == summary.actor and pruned.actor.startswith("os:")
    db.dispose()
