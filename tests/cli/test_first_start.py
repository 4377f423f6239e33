"""The first start on an empty database prints commands that run as printed: `warroom …` when
the shell finds this warroom on PATH, else its path (`.venv/bin/warroom` after `make run`)."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from warroom.cli.common import warroom_command
from warroom.cli.serve import client_url, first_start_banner

SCRIPTS = Path(sysconfig.get_path("scripts"))  # where this test's warroom is installed
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def script(folder: Path) -> Path:
    """Write an executable `warroom` into `folder`; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "warroom"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_venv_that_is_not_activated_is_named_by_its_path(tmp_path: Path) -> None:
    bin_dir = script(tmp_path / ".venv" / "bin").parent
    # What `make run` leaves: the shell's PATH does not have .venv/bin.
    assert warroom_command(scripts=bin_dir, search_path=SYSTEM_PATH, cwd=tmp_path) == (
        ".venv/bin/warroom"
    )
    # Started from elsewhere, the relative path would not work: the absolute one does.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert warroom_command(scripts=bin_dir, search_path=SYSTEM_PATH, cwd=elsewhere) == str(
        bin_dir / "warroom"
    )
    assert warroom_command(scripts=bin_dir, search_path=SYSTEM_PATH, cwd=bin_dir) == "./warroom"
    # A path with a space is quoted, so that it still runs when pasted.
    spaced = script(tmp_path / "my tools" / "bin").parent
    assert warroom_command(scripts=spaced, search_path=SYSTEM_PATH, cwd=elsewhere) == (
        f"'{spaced}/warroom'"
    )


def test_warroom_on_path_is_plain_warroom(tmp_path: Path) -> None:
    bin_dir = script(tmp_path / ".venv" / "bin").parent
    activated = f"{bin_dir}{os.pathsep}{SYSTEM_PATH}"  # `source .venv/bin/activate`, or pipx
    assert warroom_command(scripts=bin_dir, search_path=activated, cwd=tmp_path) == "warroom"
    # Another warroom first on PATH is not the one that made this database: name ours.
    other = script(tmp_path / "other").parent
    shadowed = f"{other}{os.pathsep}{bin_dir}"
    assert warroom_command(scripts=bin_dir, search_path=shadowed, cwd=tmp_path) == (
        ".venv/bin/warroom"
    )
    # No console script beside the interpreter (`python -m warroom` from a source tree).
    assert warroom_command(scripts=tmp_path / "none", search_path="", cwd=tmp_path) == "warroom"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),  # every interface: reach it on loopback
        ("::", "http://127.0.0.1:8080"),
        ("::1", "http://[::1]:8080"),
        ("warroom.internal", "http://warroom.internal:8080"),
    ],
)
def test_the_printed_url_is_one_a_client_can_use(host: str, url: str) -> None:
    assert client_url(host, 8080) == url


def test_banner_uses_the_command_it_is_given() -> None:
    banner = first_start_banner("pw", "wr_abc", url="http://127.0.0.1:8080", command="x/warroom")
    assert "  user: admin    password: pw\n" in banner
    assert "  export WARROOM_TOKEN=wr_abc\n  x/warroom incident list\n" in banner
    assert "`x/warroom tokens create admin`" in banner
    assert "API explorer: http://127.0.0.1:8080/docs" in banner


def serve_once(tmp_path: Path, search_path: str) -> str:
    """Start `warroom serve` on an empty database, run what its banner says; return the banner."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WARROOM_", "VIRTUAL_ENV"))}
    env |= {
        "PATH": search_path,
        "WARROOM_DATA_DIR": str(tmp_path / "var"),
        "WARROOM_RUNBOOKS_DIR": str(tmp_path / "runbooks"),
        "WARROOM_CONFIG": str(tmp_path / "warroom.yaml"),
    }
    (tmp_path / "warroom.yaml").write_text("{}\n")
    out = tmp_path / "serve.out"
    with out.open("w") as stdout:
        server = subprocess.Popen(
            [str(SCRIPTS / "warroom"), "serve", "--port", str(port), "--no-engine"],
            cwd=SCRIPTS.parent.parent,  # the directory holding the venv, as `make run` does
            env=env,
            stdout=stdout,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, out.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        banner = out.read_text()
        # Run what the banner says, in the shell that started the server.
        start = banner.index("Use the CLI against this server with:\n")
        commands = banner[start:].splitlines()[1:4]
        lost = banner.split("Lost the token? `", 1)[1].split("`", 1)[0]
        for command in ("\n".join(commands), lost):
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=SCRIPTS.parent.parent,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return banner
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_make_run_banner_names_the_venv_and_works_as_printed(tmp_path: Path) -> None:
    banner = serve_once(tmp_path, SYSTEM_PATH)
    ours = f"{SCRIPTS.parent.name}/bin/warroom"  # `.venv/bin/warroom` in a `make` checkout
    assert f"\n  {ours} incident list\n" in banner
    assert f"`{ours} tokens create admin`" in banner
    assert "\n  warroom incident list" not in banner


def test_activated_venv_banner_says_warroom(tmp_path: Path) -> None:
    banner = serve_once(tmp_path, f"{SCRIPTS}{os.pathsep}{SYSTEM_PATH}")
    assert "\n  warroom incident list\n" in banner
    assert "`warroom tokens create admin`" in banner
