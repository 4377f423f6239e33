"""Read the deployment files as their tools do, and check warroom command lines in them."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import typer

from tests.conftest import REPO
from warroom.cli.main import app
from warroom.settings import Settings

DEPLOY = Path(REPO) / "deploy"
SETTINGS = {f"WARROOM_{name.upper()}" for name in Settings.model_fields}


def check_warroom_argv(argv: list[str]) -> dict[str, object]:
    """Parse a `warroom …` command line as the CLI would, without running it; return its params.

    An unknown command or option, or a bad value, raises the CLI's usage error.
    """
    assert Path(argv[0]).name == "warroom", f"{argv[0]} is not the warroom command"
    command = typer.main.get_command(app)
    args = list(argv[1:])
    parent = command.make_context("warroom", [], resilient_parsing=True)
    while hasattr(command, "get_command"):  # a group: the next word names its subcommand
        assert args, f"{shlex.join(argv)} names no command"
        name = args.pop(0)
        found = command.get_command(parent, name)
        assert found is not None, f"{shlex.join(argv)}: no command {name!r}"
        command = found
    context = command.make_context(Path(argv[0]).name, args, parent=parent)
    return dict(context.params)


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """Return the Dockerfile's (INSTRUCTION, arguments), continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        instructions.append((keyword.upper(), " ".join(rest.split())))
        pending = ""
    return instructions


def exec_form(arguments: str) -> list[str]:
    """Return the argv of an instruction written in exec (JSON) form."""
    argv = json.loads(arguments)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), arguments
    return argv


def unit_options(path: Path) -> dict[str, dict[str, list[str]]]:
    """Return a systemd unit's sections: each option's values in order (options repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path.name}: {line!r} before any section"
        key, equals, value = line.partition("=")
        assert equals, f"{path.name}: {line!r} is not Key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections
