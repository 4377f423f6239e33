"""`warroom runbooks lint|sync`: check templates, rewrite incident files from the database."""

from pathlib import Path
from typing import Annotated

import typer

from warroom.cli.common import errors_as_exit, local_runtime, settings_of

runbooks_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="The runbook directory (templates/, active/, archive/).",
    no_args_is_help=True,
)


@runbooks_app.command("lint")
def lint(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(help="Templates folder (default: WARROOM_RUNBOOKS_DIR/templates)."),
    ] = None,
) -> None:
    """Check every template; print file:line: message; exit 1 on errors."""
    from warroom.config import load_config
    from warroom.runbooks.lint import lint_directory
    from warroom.runbooks.templates import list_templates

    settings = settings_of(ctx)
    folder = directory or Path(settings.runbooks_dir) / "templates"
    if not folder.is_dir():
        typer.echo(f"error: {folder} is not a directory", err=True)
        raise typer.Exit(1)
    with errors_as_exit():
        config = load_config(settings.config_path(), resolve_secrets=False)
        known = {t.id for t in config.incident_types}
    problems = lint_directory(folder, known)
    for path, problem in problems:
        prefix = "warning: " if problem.severity == "warning" else ""
        typer.echo(f"{path}:{problem.line}: {prefix}{problem.message}")
    errors = sum(1 for _, p in problems if p.severity == "error")
    warnings = len(problems) - errors
    count = len(list_templates(folder))
    typer.echo(f"{count} templates, {errors} errors, {warnings} warnings", err=True)
    if errors:
        raise typer.Exit(1)


@runbooks_app.command("sync")
def sync(ctx: typer.Context) -> None:
    """Rewrite every incident's file in active/ or archive/ from the database."""
    from rich.progress import Progress

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with Progress(transient=True) as progress:
            task = progress.add_task("writing runbook files", total=None)

            def step(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            written, failed = runtime.flows.sync_all(step)
    typer.echo(f"{written} files written, {failed} failed, under {runtime.runbooks.root}")
    for problem in runtime.runbooks.problems():
        typer.echo(f"error: {problem}", err=True)
    if failed:
        raise typer.Exit(1)
