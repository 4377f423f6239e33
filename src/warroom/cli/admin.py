"""Admin commands on the local database: db, users, tokens, config."""

from pathlib import Path
from typing import Annotated

import typer

from warroom.cli.common import errors_as_exit, local_runtime, settings_of

db_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Database schema.",
    no_args_is_help=True,
)
users_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Users and their roles (viewer, responder, admin).",
    no_args_is_help=True,
)
tokens_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="API tokens (shown once, stored hashed).",
    no_args_is_help=True,
)
config_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="The organisation's configuration (warroom.yaml).",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or upgrade the database schema to the newest migration."""
    from warroom.migrations import migrate

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx), upgrade=True)
        typer.echo(f"database at revision {migrate.current_revision(runtime.db)}")


@users_app.command("create")
def users_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name, e.g. alice.")],
    role: Annotated[str, typer.Option(help="viewer, responder or admin.")] = "responder",
    password: Annotated[bool, typer.Option("--password", help="Prompt for a password.")] = False,
) -> None:
    """Create a user."""
    from warroom.auth import service as auth

    secret = (
        typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    )
    with errors_as_exit():
        auth.check_role(role)
        runtime = local_runtime(settings_of(ctx))
        with runtime.db.transaction() as session:
            user = auth.create_user(
                session, name=name, role=role, now=runtime.clock.now(), password=secret
            )
        typer.echo(f"created user {user.name} ({user.role})")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """List users and their roles."""
    from rich.console import Console
    from rich.table import Table

    from warroom.auth import service as auth

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with runtime.db.session() as session:
            users = auth.list_users(session)
            table = Table("name", "role", "created (UTC)", "disabled")
            for user in users:
                table.add_row(
                    user.name,
                    user.role,
                    user.created_at.strftime("%Y-%m-%d %H:%M"),
                    "yes" if user.disabled_at else "",
                )
    Console().print(table)


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option("--name", help="A label to recognise the token by.")] = "cli",
) -> None:
    """Create an API token for USER; the token is printed alone on the last line."""
    from warroom.auth import service as auth

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with runtime.db.transaction() as session:
            account = auth.get_user(session, user)
            token = auth.create_token(session, user=account, name=name, now=runtime.clock.now())
        typer.echo(f"token {name!r} for {account.name} ({account.role}); it is shown only once:")
        typer.echo(token)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
) -> None:
    """List tokens: prefix, label, user, created, last used, revoked (never the token itself)."""
    from rich.console import Console
    from rich.table import Table

    from warroom.auth import service as auth

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with runtime.db.session() as session:
            table = Table(
                "prefix",
                "label",
                "user",
                "role",
                "created (UTC)",
                "last used (UTC)",
                "revoked (UTC)",
            )
            for token in auth.list_tokens(session, user=user):
                table.add_row(
                    token.prefix + "…",
                    token.name,
                    token.user.name,
                    token.user.role,
                    token.created_at.strftime("%Y-%m-%d %H:%M"),
                    token.last_used_at.strftime("%Y-%m-%d %H:%M")
                    if token.last_used_at
                    else "never",
                    token.revoked_at.strftime("%Y-%m-%d %H:%M") if token.revoked_at else "",
                )
    Console().print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context,
    prefix: Annotated[
        str, typer.Argument(help="The token's first characters, as `tokens list` shows.")
    ],
) -> None:
    """Revoke a token; requests using it get 401 from then on."""
    from warroom.auth import service as auth

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with runtime.db.transaction() as session:
            token = auth.revoke_token(session, prefix=prefix, now=runtime.clock.now())
            typer.echo(f"revoked token {token.prefix}… ({token.name!r} of {token.user.name})")


@config_app.command("check")
def config_check(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="File to check (default WARROOM_CONFIG).")
    ] = None,
) -> None:
    """Validate warroom.yaml; problems are printed as file:line: message (exit 1).

    Settings that are valid but cannot work as meant are `warning:` lines on stderr (exit 0).
    """
    from warroom.config import config_warnings, load_config

    target = path or settings_of(ctx).config_path()
    with errors_as_exit():
        config = load_config(target)
    where = str(target) if target else "built-in defaults (no warroom.yaml)"
    # Every integration counts, intake and outgoing alike (SMTP alone is one integration).
    integrations = sum(
        len(config.integrations.configured(kind)) for kind in type(config.integrations).model_fields
    )
    counted = [
        (len(config.severities), "severity", "severities"),
        (len(config.incident_types), "incident type", "incident types"),
        (len(config.services), "service", "services"),
        (len(config.people), "person", "people"),
        (len(config.teams), "team", "teams"),
        (len(config.schedules), "schedule", "schedules"),
        (len(config.escalation_policies), "escalation policy", "escalation policies"),
        (len(config.routes), "route", "routes"),
        (integrations, "integration", "integrations"),
    ]
    summary = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counted)
    typer.echo(f"{where}: ok — {summary}")
    for warning in config_warnings(config):
        typer.echo(f"warning: {warning}", err=True)
