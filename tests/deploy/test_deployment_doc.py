"""docs/deployment.md: its links lead somewhere and its warroom commands exist as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.conftest import REPO
from tests.deploy.files import check_warroom_argv

DOCS = Path(REPO) / "docs"
DOC = (DOCS / "deployment.md").read_text(encoding="utf-8")


def test_relative_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", DOC):
        assert (DOCS / target).resolve().exists(), f"docs/deployment.md links to {target}"


def test_commands_in_code_and_text_are_real() -> None:
    code = "\n".join(re.findall(r"```sh\n(.*?)```", DOC, flags=re.S))
    inline = re.findall(r"`(warroom [^`]+)`", DOC)
    lines = [line.split("#")[0].strip() for line in code.splitlines()] + inline
    commands = [shlex.split(line) for line in lines if line.startswith("warroom ")]
    assert len(commands) >= 5
    for argv in commands:
        check_warroom_argv(argv)


def test_is_linked_from_readme_and_operations() -> None:
    assert "(docs/deployment.md)" in (Path(REPO) / "README.md").read_text(encoding="utf-8")
    assert "(deployment.md)" in (DOCS / "operations.md").read_text(encoding="utf-8")
    assert "(docs/reference.md)" in (Path(REPO) / "README.md").read_text(encoding="utf-8")
    assert "(reference.md)" in (DOCS / "configuration.md").read_text(encoding="utf-8")
