"""A database URL that is malformed, unreachable or unwritable is one line on stderr, exit 1.

For every local command that opens a database: `db upgrade`, `db copy --to`, `backup`,
`restore`, and those built on the local runtime (`db prune` has its own test in
test_db_prune.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from warroom.cli.main import app

UNREACHABLE = "postgresql://nobody:hunter2@127.0.0.1:1/x"


def bad_urls(tmp_path: Path) -> list[tuple[str, str]]:
    """Return (URL, what the one line must say) for each way a URL can be bad."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return [
        (UNREACHABLE, "cannot use the database at postgresql+psycopg://nobody:***@127.0.0.1:1/x"),
        ("nonsense://x", "cannot use the database at nonsense://x: Can't load plugin"),
        ("postgresql://u:hunter2@host:notaport/x", "is not a database URL"),
        ("::::", "is not a database URL"),
        # The folder for the SQLite file cannot be made: a file stands where it would go.
        (f"sqlite:///{blocker}/warroom.db", f"cannot use the database at sqlite:///{blocker}"),
    ]


def assert_one_line(result: Result, said: str) -> None:
    """Assert the command exited 1 with one error line saying `said`, no traceback, no secret."""
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    lines = [line for line in result.output.splitlines() if not line.endswith("…")]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert said in lines[0], result.output
    assert "Traceback" not in result.output and "hunter2" not in result.output


@pytest.fixture
def local(tmp_path: Path) -> dict[str, str]:
    """Environment for admin commands, without a database URL yet."""
    return {
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(tmp_path / "runbooks"),
    }


@pytest.mark.parametrize("command", [["db", "upgrade"], ["backup", "BACKUP"]])
def test_upgrade_and_backup_say_what_is_wrong_with_the_url(
    command: list[str], local: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    args = [str(tmp_path / "out.tar") if arg == "BACKUP" else arg for arg in command]
    for url, said in bad_urls(tmp_path):
        result = runner.invoke(app, args, env=local | {"WARROOM_DATABASE_URL": url})
        assert_one_line(result, said)
    assert not (tmp_path / "out.tar").exists()


def test_restore_says_what_is_wrong_with_the_url(local: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    good = local | {"WARROOM_DATABASE_URL": f"sqlite:///{tmp_path / 'warroom.db'}"}
    archive = tmp_path / "backup.tar"
    made = runner.invoke(app, ["backup", str(archive)], env=good)
    assert made.exit_code == 0, made.output
    refused_before_connecting = {  # the archive's backend is checked against the URL's first
        UNREACHABLE: "is a sqlite backup and the database is postgresql",
        "nonsense://x": "backups know SQLite and PostgreSQL, not nonsense",
    }
    for url, said in bad_urls(tmp_path):
        said = refused_before_connecting.get(url, said)
        result = runner.invoke(
            app, ["restore", "--yes", str(archive)], env=local | {"WARROOM_DATABASE_URL": url}
        )
        assert_one_line(result, said)


def test_copy_says_what_is_wrong_with_the_target(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    for url, said in bad_urls(tmp_path):
        result = runner.invoke(app, ["db", "copy", "--to", url], env=env)
        assert_one_line(result, said.replace("is not a database URL", "--to is not a database URL"))


def test_copy_says_what_is_wrong_with_the_source(local: dict[str, str], tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'new.db'}"
    result = CliRunner().invoke(
        app, ["db", "copy", "--to", target], env=local | {"WARROOM_DATABASE_URL": UNREACHABLE}
    )
    assert_one_line(result, "cannot use the database at postgresql+psycopg://nobody:***@")
    assert not (tmp_path / "new.db").exists()


@pytest.mark.parametrize("command", [["users", "list"], ["audit", "verify"]])
def test_commands_on_the_local_runtime_say_what_is_wrong_with_the_url(
    command: list[str], local: dict[str, str], tmp_path: Path
) -> None:
    # Every command that builds the local runtime (users, tokens, audit, engine, serve, …).
    # Not `engine` here: it points the root logger at this runner's stderr, which is closed
    # once the runner returns, and later tests in the process would log into it.
    runner = CliRunner()
    for url, said in bad_urls(tmp_path):
        result = runner.invoke(app, command, env=local | {"WARROOM_DATABASE_URL": url})
        assert_one_line(result, said)
