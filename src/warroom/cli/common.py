"""Helpers shared by CLI commands: errors as one readable line, the local runtime, output."""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from warroom.runtime import Runtime
    from warroom.settings import Settings

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


@contextmanager
def database_errors_as_exit(url: str, *, named: str = "WARROOM_DATABASE_URL") -> Iterator[None]:
    """Turn a database that cannot be named, reached or created into one line on stderr, exit 1.

    `named` is where the URL came from: what the line says when it is not even a URL (it is
    not repeated, as it may hold a password).
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        fail(f"{named} is not a database URL (dialect://user@host:port/name or sqlite:///path)")
    shown = parsed.render_as_string(hide_password=True)
    try:
        yield
    except (ArgumentError, NoSuchModuleError, DBAPIError) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        fail(f"cannot use the database at {shown}: {reason}")
    except OSError as exc:
        # Only the SQLite file, its -wal/-journal and the folders above it: any other file
        # a command fails to write has its own message (or is a bug worth its traceback).
        database = parsed.database if parsed.get_backend_name() == "sqlite" else None
        if not database or database == ":memory:" or exc.filename is None:
            raise
        path, failed = Path(database).absolute(), Path(exc.filename).absolute()
        if not (str(failed).startswith(str(path)) or failed in path.parents):
            raise
        fail(f"cannot use the database at {shown}: {exc.strerror or exc}: {exc.filename}")


class CliState:
    """What the `warroom` command builds once and hands to every subcommand (`ctx.obj`)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> "Settings":
        """Return the process settings, read from the WARROOM_* variables on first use."""
        # Built on first use rather than in the callback: `--help` and the commands that
        # talk to a server over HTTP need none, and loading pydantic-settings is slow.
        if self._settings is None:
            from warroom.settings import Settings

            self._settings = Settings()
        return self._settings


def settings_of(ctx: typer.Context) -> "Settings":
    """Return the Settings the `warroom` command built for this invocation."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):  # a command run outside `warroom` (a test's app)
        root.obj = CliState()
    return root.obj.settings


def local_runtime(settings: "Settings", upgrade: bool = True, *, sends: bool = False) -> "Runtime":
    """Build the runtime for commands on the local database.

    Admin commands (users, tokens, db, runbooks) send nothing, so they need none of the
    integrations' secrets; commands that send (`serve`, `engine`, `demo`) pass `sends=True`.
    """
    from warroom.app import build_runtime
    from warroom.config import load_config

    config = load_config(settings.config_path(), resolve_secrets=sends)
    # A database that cannot be reached or created is one line, not a traceback, whichever
    # command met it first (`users list`, `audit verify`, `engine`, `serve`, …).
    with database_errors_as_exit(settings.resolved_database_url()):
        return build_runtime(settings, upgrade=upgrade, config=config)


@contextmanager
def local_admin() -> Iterator[str]:
    """Yield who runs this admin command, for the audit log; its entries' client is "local".

    The operating-system user: these commands work on the database directly, so whoever can
    run them with its URL can act as anyone, and the account is what tells who did.
    """
    import getpass
    import os

    from warroom.audit.context import client_address

    try:
        actor = f"os:{getpass.getuser()}"
    except (OSError, KeyError):  # no name for the uid (a container's arbitrary user)
        actor = f"os:uid-{os.getuid()}"
    token = client_address.set("local")
    try:
        yield actor
    finally:
        client_address.reset(token)


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout."""
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def warroom_command(
    *, scripts: Path | None = None, search_path: str | None = None, cwd: Path | None = None
) -> str:
    """Return how the user's shell runs this warroom: `warroom`, or its path if PATH misses it.

    After `make run` the command lives in `.venv/bin`, which is not on PATH until the venv is
    activated: a hint that says plain `warroom` would fail as printed. `scripts` (this
    interpreter's scripts directory), `search_path` (PATH) and `cwd` default to the process's.
    """
    import shlex
    import shutil
    import sysconfig

    folder = scripts if scripts is not None else Path(sysconfig.get_path("scripts"))
    mine = shutil.which("warroom", path=str(folder))
    found = shutil.which("warroom", path=search_path)
    if mine is None or (found is not None and Path(found).resolve() == Path(mine).resolve()):
        return "warroom"
    here = cwd if cwd is not None else Path.cwd()
    for candidate in (Path(mine), Path(mine).resolve()):
        if candidate.is_relative_to(here):
            relative = candidate.relative_to(here)
            return shlex.quote(str(relative) if relative.parent != Path() else f"./{relative}")
    return shlex.quote(mine)
