"""The README's and getting-started's shell blocks run as written against a real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_token
from warroom.incidents import service as incidents
from warroom.runtime import Runtime

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent  # the venv running the tests, as `make` builds it
PLACEHOLDER_URL = "http://127.0.0.1:8080"
PLACEHOLDER_TOKEN = re.compile(r"wr_(?:\.\.\.|…)")


def shell_blocks(path: Path, heading: str) -> list[str]:
    """Return the ```sh blocks of one section of a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else len(text)]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def run_as_written(script: str, *, url: str, token: str, cwd: Path) -> str:
    """Run a documented block in bash, with only the server's address and token filled in."""
    assert PLACEHOLDER_URL in script or "WARROOM_URL" not in script
    script = script.replace(PLACEHOLDER_URL, url)
    script = PLACEHOLDER_TOKEN.sub(token, script)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # `warroom` as installed
    answer = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert answer.returncode == 0, (
        f"{script}\n--- stdout\n{answer.stdout}\n--- stderr\n{answer.stderr}"
    )
    return answer.stdout


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A directory to run the blocks in, with `.venv/bin/warroom` where the README says."""
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / ".venv").symlink_to(VENV)
    return tmp_path / "work"


def test_readme_first_five_minutes(runtime: Runtime, live_server: str, workdir: Path) -> None:
    blocks = shell_blocks(REPO / "README.md", "## First five minutes")
    assert blocks[0].strip() == "make run"  # the server: here, the test's own
    token = make_token(runtime, "admin", "admin")
    out = run_as_written(blocks[1], url=live_server, token=token, cwd=workdir)
    assert "INC-1 is now resolved" in out
    assert [p.name for p in runtime.runbooks.archive.glob("INC-1-*.md")] == [
        "INC-1-checkout-p99-above-4-s.md"
    ]
    assert not list(runtime.runbooks.active.glob("INC-1-*.md"))


def test_getting_started_first_incident(runtime: Runtime, live_server: str, workdir: Path) -> None:
    blocks = shell_blocks(REPO / "docs" / "getting-started.md", "## Your first incident")
    assert len(blocks) == 2  # the incident, then its postmortem and close
    token = make_token(runtime, "admin", "admin")
    # One terminal session, as a reader has: the first block's exports hold for the second.
    out = run_as_written("\n".join(blocks), url=live_server, token=token, cwd=workdir)
    assert "INC-1 is now resolved" in out
    assert "INC-1 is now closed" in out
    with runtime.db.session() as session:
        assert incidents.get(session, "INC-1").status == "closed"


def test_cli_reference_lifecycle(runtime: Runtime, live_server: str, workdir: Path) -> None:
    blocks = shell_blocks(REPO / "docs" / "cli.md", "## Incidents (over HTTP)")
    token = make_token(runtime, "admin", "admin")
    out = run_as_written(blocks[0], url=live_server, token=token, cwd=workdir)
    assert "INC-1 is now closed" in out
