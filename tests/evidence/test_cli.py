"""`warroom evidence …` against a real server (add, list, get, custody, transfer) and on the
local database and files (verify), on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from warroom.audit import service as audit
from warroom.cli.main import app
from warroom.runtime import Runtime
from warroom.settings import Settings

runner = CliRunner()
PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}


@pytest.fixture
def env(live_server: str, tokens: dict[str, str], settings: Settings) -> dict[str, str | None]:
    """The responder's client environment, and the local settings for `verify`."""
    return {
        "WARROOM_URL": live_server,
        "WARROOM_TOKEN": tokens["responder"],
        "WARROOM_DATA_DIR": str(settings.data_dir),
        "WARROOM_DATABASE_URL": settings.database_url,
        "WARROOM_RUNBOOKS_DIR": str(settings.runbooks_dir),
        "WARROOM_CONFIG": None,
        **PLAIN,
    }


def run(env: dict[str, str | None], *args: str) -> Result:
    return runner.invoke(app, ["evidence", *args], env=env)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


@pytest.fixture
def incident(env: dict[str, str | None]) -> str:
    declared = runner.invoke(app, ["incident", "declare", "Breach suspected"], env=env)
    assert declared.exit_code == 0, declared.stdout
    return "INC-1"


def test_add_list_get_custody_transfer(
    env: dict[str, str | None], incident: str, tmp_path: Path, runtime: Runtime
) -> None:
    capture = tmp_path / "tcpdump.pcap"
    data = os.urandom(200_000)
    capture.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    added = ok(run(env, "add", incident, str(capture), "--note", "eth0 on web-1"))
    assert f"kept tcpdump.pcap version 1 as evidence 1 (200000 bytes, SHA-256 {digest})" in added
    again = ok(run(env, "add", "1", str(capture), "--name", "tcpdump.pcap"))
    assert "version 2" in again

    listed = ok(run(env, "list", incident))
    assert "tcpdump.pcap" in listed and digest[:16] in listed and "195.3 KiB" in listed

    out = tmp_path / "out" / "copy.pcap"
    out.parent.mkdir()
    got = ok(run(env, "get", incident, "tcpdump.pcap", "--version", "1", "-o", str(out)))
    assert "matches" in got and out.read_bytes() == data
    refused = run(env, "get", incident, "tcpdump.pcap", "-o", str(out))
    assert refused.exit_code == 1 and "exists already" in refused.stderr
    missing = run(env, "get", incident, "nothing.txt")
    assert missing.exit_code == 1 and "has no evidence 'nothing.txt'" in missing.stderr
    assert [p.name for p in out.parent.iterdir()] == ["copy.pcap"]  # no .part left

    moved = ok(run(env, "transfer", incident, "1", "--to", "legal hold, Bob", "--note", "court"))
    assert "transferred to legal hold, Bob" in moved
    chain = ok(run(env, "custody", incident, "tcpdump.pcap", "--version", "1"))
    lines = chain.splitlines()
    assert "SHA-256 " + digest in lines[0]
    assert [line.split(")  ")[1].split(" by ")[0] for line in lines[1:]] == [
        "collected",
        "viewed",
        "transferred",
    ]
    assert "legal hold, Bob — court" in lines[3]


def test_add_of_a_missing_file_or_without_a_token_exits_1(
    env: dict[str, str | None], incident: str, tmp_path: Path
) -> None:
    gone = run(env, "add", incident, str(tmp_path / "gone.bin"))
    assert gone.exit_code == 2  # a usage error: typer checks the file exists
    (tmp_path / "a.txt").write_text("a")
    no_token = run({**env, "WARROOM_TOKEN": ""}, "add", incident, str(tmp_path / "a.txt"))
    assert no_token.exit_code == 1 and "WARROOM_TOKEN" in no_token.stderr
    hidden = run(env, "add", "INC-9", str(tmp_path / "a.txt"))
    assert hidden.exit_code == 1 and "no incident INC-9" in hidden.stderr


def test_verify_reports_a_changed_and_a_missing_file(
    env: dict[str, str | None], incident: str, tmp_path: Path, runtime: Runtime
) -> None:
    for name in ("a.log", "b.log", "c.log"):
        (tmp_path / name).write_text(f"contents of {name}\n")
        ok(run(env, "add", incident, str(tmp_path / name)))
    assert "checked 3 evidence file(s): every one matches" in ok(run(env, "verify"))

    items = {i.name: i for i in runtime.evidence.items(incident)}
    root = runtime.evidence.store.root
    (root / items["a.log"].sha256[:2] / items["a.log"].sha256).write_text("tampered\n")
    (root / items["b.log"].sha256[:2] / items["b.log"].sha256).unlink()
    found = run(env, "verify")
    assert found.exit_code == 1
    assert "2 of 3 evidence file(s) do not match" in found.stderr
    assert f"MISMATCH {incident} evidence {items['a.log'].id} (a.log" in found.stdout
    assert "no longer matches its SHA-256" in found.stdout
    assert "b.log" in found.stdout and "is missing" in found.stdout
    assert "c.log" not in found.stdout

    after = {i.name: i.custody[-1] for i in runtime.evidence.items(incident)}
    assert {c.action for c in after.values()} == {"verified"}
    assert after["c.log"].note == "the file matches its SHA-256"
    assert "is missing" in after["b.log"].note
    with runtime.db.session() as session:
        verifies = audit.entries(session, action="evidence.verify")
        assert [e.outcome for e in verifies] == ["failed", "ok"]
        wrong = sorted([items["a.log"].id, items["b.log"].id])
        assert verifies[0].details["mismatched"] == wrong
