"""`make run` installs the runtime alone; `make test` and the other developer targets add the
dev extras; neither reinstalls what the other left. Checked with `make -n` on a copy."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need

REPO = Path(__file__).resolve().parents[2]
RUNTIME_INSTALL = ".venv/bin/pip install --quiet -e ."
DEV_INSTALL = ".venv/bin/pip install --quiet -e '.[dev]'"


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory holding the Makefile and a pyproject.toml (an hour old), nothing else."""
    need(shutil.which("make") is not None, "make is not installed (apt-get install make)")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    _age(tmp_path / "pyproject.toml", 3600)
    return tmp_path


def _age(path: Path, seconds: int) -> None:
    """Set `path`'s modification time `seconds` into the past."""
    then = path.stat().st_mtime - seconds
    os.utime(path, (then, then))


def planned(checkout: Path, target: str) -> list[str]:
    """Return the commands `make TARGET` would run (`make -n`), one per line."""
    answer = subprocess.run(
        ["make", "-n", "--no-print-directory", target],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
        # Under `make test` the suite inherits make's level: a sub-make would announce
        # "Entering/Leaving directory" lines that are not commands.
        env={
            **{k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MFLAGS")},
            "MAKEFLAGS": "",
        },
    )
    assert answer.returncode == 0, answer.stderr
    return [line.strip() for line in answer.stdout.splitlines()]


def installs(commands: list[str]) -> list[str]:
    """Return the commands that create the venv or install into it."""
    return [c for c in commands if " -m venv " in c or "pip install" in c]


def made(checkout: Path, *stamps: str) -> None:
    """Pretend a venv exists with these stamps written after pyproject.toml."""
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "python").touch()
    for stamp in stamps:
        (checkout / ".venv" / stamp).touch()


def test_run_on_a_fresh_clone_installs_the_runtime_only(checkout: Path) -> None:
    commands = planned(checkout, "run")
    assert installs(commands) == [
        "python3 -m venv .venv",
        ".venv/bin/pip install --quiet --upgrade pip",
        RUNTIME_INSTALL,
    ]
    assert not any("[dev]" in c for c in commands)
    assert commands[-1] == ".venv/bin/warroom serve --host 127.0.0.1 --port 8080"


@pytest.mark.parametrize("target", ["test", "lint", "bench", "fmt"])
def test_developer_targets_install_the_dev_extras(checkout: Path, target: str) -> None:
    assert installs(planned(checkout, target)) == [
        "python3 -m venv .venv",
        ".venv/bin/pip install --quiet --upgrade pip",
        DEV_INSTALL,
    ]


def test_run_after_test_installs_nothing(checkout: Path) -> None:
    made(checkout, ".installed-runtime", ".installed-dev")  # what `make test` leaves
    assert installs(planned(checkout, "run")) == []
    assert installs(planned(checkout, "test")) == []


def test_test_after_run_adds_the_dev_extras(checkout: Path) -> None:
    made(checkout, ".installed-runtime")  # what `make run` leaves
    assert installs(planned(checkout, "test")) == [DEV_INSTALL]
    assert installs(planned(checkout, "run")) == []


def test_a_changed_pyproject_reinstalls(checkout: Path) -> None:
    made(checkout, ".installed-runtime", ".installed-dev")
    for stamp in (".installed-runtime", ".installed-dev"):
        _age(checkout / ".venv" / stamp, 7200)  # older than pyproject.toml now
    assert installs(planned(checkout, "run")) == [RUNTIME_INSTALL]
    assert installs(planned(checkout, "test")) == [DEV_INSTALL]
