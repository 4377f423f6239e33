"""Helpers shared by CLI commands: errors as one readable line, the local runtime, output."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from warroom.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` to stderr and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Turn warroom errors into one line on stderr and exit code 1."""
    from warroom.core.errors import ConfigError, WarroomError

    try:
        yield
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None
    except WarroomError as exc:
        fail(exc.message)


def local_runtime(upgrade: bool = True) -> Runtime:
    """Build the runtime from the environment for admin commands on the local database."""
    from warroom.app import build_runtime
    from warroom.settings import Settings

    return build_runtime(Settings(), upgrade=upgrade)


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
