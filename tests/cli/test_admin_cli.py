"""Admin commands on the local database, and `warroom serve` as a real process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import TEMPLATES, free_port
from warroom.cli.main import app


def test_users_and_tokens(env: dict[str, str]) -> None:
    runner = CliRunner()
    created = runner.invoke(app, ["users", "create", "alice", "--role", "admin"], env=env)
    assert created.exit_code == 0, created.output
    assert "created user alice (admin)" in created.output
    again = runner.invoke(app, ["users", "create", "alice"], env=env)
    assert again.exit_code == 1 and "error: user 'alice' already exists" in again.output
    bad_role = runner.invoke(app, ["users", "create", "bob", "--role", "god"], env=env)
    assert bad_role.exit_code == 1 and "unknown role 'god'" in bad_role.output
    token_run = runner.invoke(app, ["tokens", "create", "alice", "--name", "laptop"], env=env)
    assert token_run.exit_code == 0
    token = token_run.stdout.strip().splitlines()[-1]
    assert token.startswith("wr_") and " " not in token
    unknown = runner.invoke(app, ["tokens", "create", "nobody"], env=env)
    assert unknown.exit_code == 1 and "no user 'nobody'" in unknown.output
    listing = runner.invoke(app, ["users", "list"], env=env)
    assert "alice" in listing.output and "admin" in listing.output


def test_db_upgrade(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade"], env=env)
    assert result.exit_code == 0
    from warroom.migrations.migrate import head_revision

    assert f"database at revision {head_revision()}" in result.output


def test_help_everywhere() -> None:
    runner = CliRunner()
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["db", "--help"],
        ["users", "create", "--help"],
        ["tokens", "create", "--help"],
        ["config", "check", "--help"],
        ["runbooks", "lint", "--help"],
        ["runbooks", "sync", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage" in result.output


def test_help_does_not_import_the_server_stack() -> None:
    code = (
        "import sys, warroom.cli.main; "
        "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'uvicorn', 'httpx', 'alembic') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("server did not become ready")


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=30)
    return out


def test_serve_bootstraps_admin_once(tmp_path: Path) -> None:
    env = {
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(tmp_path / "runbooks"),
    }
    (tmp_path / "runbooks").mkdir()
    import shutil

    shutil.copytree(TEMPLATES, tmp_path / "runbooks" / "templates")
    port = free_port()
    first = _serve(env, port)
    try:
        _wait_ready(port)
        url = f"http://127.0.0.1:{port}"
    finally:
        output = _stop(first)
    # uvicorn finishes in-flight work on SIGTERM, then re-raises the signal as its exit status
    assert first.returncode in (0, -15), output
    assert "Finished server process" in output
    assert "an admin user was created" in output
    token = next(
        line.split("=", 1)[1] for line in output.splitlines() if "export WARROOM_TOKEN=" in line
    )
    assert (tmp_path / "var" / "warroom.db").exists()
    second = _serve(env, port)
    try:
        _wait_ready(port)
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{url}/api/v1/incidents", json={"title": "From a real server"}, headers=headers
        )
        assert created.status_code == 201
    finally:
        output = _stop(second)
    assert "admin user was created" not in output
    assert list((tmp_path / "runbooks" / "active").glob("INC-1-*.md"))


def test_serve_refuses_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "warroom.yaml"
    bad.write_text("severities:\n  SEV-1: {name: X}\n")
    env = {**os.environ, "WARROOM_CONFIG": str(bad), "WARROOM_DATA_DIR": str(tmp_path / "var")}
    result = subprocess.run(
        [sys.executable, "-m", "warroom", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"{bad}:2: severities.SEV-1.description: Field required" in result.stderr


def test_tokens_list_and_revoke(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(app, ["users", "create", "dana", "--role", "viewer"], env=env)
    token = runner.invoke(app, ["tokens", "create", "dana", "--name", "ci"], env=env)
    secret = token.stdout.strip().splitlines()[-1]
    listing = runner.invoke(app, ["tokens", "list"], env=env)
    assert listing.exit_code == 0
    assert secret[:10] in listing.output and secret not in listing.output
    assert "ci" in listing.output and "dana" in listing.output
    short = runner.invoke(app, ["tokens", "revoke", "wr_"], env=env)
    assert short.exit_code == 1 and "at least the first 6 characters" in short.output
    missing = runner.invoke(app, ["tokens", "revoke", "wr_zzzzzzz"], env=env)
    assert missing.exit_code == 1 and "no token starting with" in missing.output
    revoked = runner.invoke(app, ["tokens", "revoke", secret[:10]], env=env)
    assert revoked.exit_code == 0 and "revoked token" in revoked.output

    from warroom.auth import service as auth
    from warroom.core.errors import Unauthorized
    from warroom.storage.db import Database

    db = Database(env["WARROOM_DATABASE_URL"])
    with db.session() as session, pytest.raises(Unauthorized):
        auth.authenticate(session, token=secret, now=datetime.now(UTC))
    db.dispose()


def test_sighup_reloads_and_keeps_last_good(tmp_path: Path) -> None:
    import contextlib
    import queue
    import signal
    import threading

    config = tmp_path / "warroom.yaml"
    config.write_text("services:\n  - {id: checkout}\n")
    env = {
        "WARROOM_CONFIG": str(config),
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(tmp_path / "runbooks"),
    }
    runner = CliRunner()
    created = runner.invoke(app, ["users", "create", "rita", "--role", "responder"], env=env)
    assert created.exit_code == 0
    token = runner.invoke(app, ["tokens", "create", "rita"], env=env).stdout.strip().splitlines()
    headers = {"Authorization": f"Bearer {token[-1]}"}
    port = free_port()
    process = _serve(env, port)
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    def wait_for_line(text: str) -> None:
        deadline = time.monotonic() + 30
        while not any(text in line for line in output):
            left = deadline - time.monotonic()
            assert left > 0, f"no {text!r} in the server's output"
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=left))

    def declare_search() -> int:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/incidents",
            json={"title": "Search down", "service": "search"},
            headers=headers,
            timeout=30,
        )
        return answer.status_code

    def wait_until_declared() -> None:
        deadline = time.monotonic() + 30
        while (status := declare_search()) != 201:
            assert status == 422 and time.monotonic() < deadline, status
            time.sleep(0.05)

    threading.Thread(target=read, daemon=True).start()
    try:
        _wait_ready(port)
        assert declare_search() == 422  # unknown service 'search'
        config.write_text("services:\n  - {id: checkout}\n  - {id: search}\n")
        process.send_signal(signal.SIGHUP)
        wait_until_declared()  # the configuration in force now knows 'search'
        wait_for_line("configuration reloaded")
        config.write_text("services: nonsense\n")
        process.send_signal(signal.SIGHUP)
        wait_for_line("configuration not reloaded, keeping the last good one")
        wait_for_line(f"{config}:1: services")
        assert declare_search() == 201  # the last good configuration is still in force
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = "".join(output)
    assert "configuration reloaded" in text
    assert "configuration not reloaded, keeping the last good one" in text
    assert f"{config}:1: services: Input should be a valid list" in text


def test_serve_with_two_workers(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    env = {
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(tmp_path / "runbooks"),
    }
    runner = CliRunner()
    assert (
        runner.invoke(app, ["users", "create", "ops", "--role", "responder"], env=env).exit_code
        == 0
    )
    token = runner.invoke(app, ["tokens", "create", "ops"], env=env).stdout.strip().splitlines()[-1]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "warroom", "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_ready(port)
        headers = {"Authorization": f"Bearer {token}"}

        def declare(index: int) -> int:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/incidents",
                json={"title": f"Worker test {index}"},
                headers=headers,
                timeout=30,
            )
            assert response.status_code == 201, response.text
            return int(response.json()["number"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            numbers = sorted(pool.map(declare, range(20)))
    finally:
        output = _stop(process)
    assert numbers == list(range(1, 21))  # two processes, one gap-free sequence
    assert output.count("Started server process") == 2


def test_admin_commands_need_no_integration_secrets(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "warroom.yaml"
    config.write_text(
        "integrations:\n  alertmanager:\n    - {name: prod, token: 'env:WARROOM_TEST_AM_TOKEN'}\n"
    )
    monkeypatch.delenv("WARROOM_TEST_AM_TOKEN", raising=False)
    shutil.copytree(TEMPLATES, tmp_path / "runbooks" / "templates")
    env = {**env, "WARROOM_CONFIG": str(config)}
    runner = CliRunner()
    for args in (
        ["db", "upgrade"],
        ["users", "create", "lena", "--role", "responder"],
        ["tokens", "create", "lena"],
        ["tokens", "list"],
        ["users", "list"],
        ["runbooks", "lint"],
    ):
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        assert "WARROOM_TEST_AM_TOKEN" not in result.output
    # The tool that validates the file, and the server, still need the secret.
    checked = runner.invoke(app, ["config", "check", str(config)], env=env)
    assert checked.exit_code == 1
    assert "environment variable WARROOM_TEST_AM_TOKEN is not set" in checked.output
