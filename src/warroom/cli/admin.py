"""Admin commands on the local database: db, users, tokens, config."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from warroom.cli.common import (
    database_errors_as_exit,
    errors_as_exit,
    local_admin,
    local_runtime,
    settings_of,
)

if TYPE_CHECKING:
    from datetime import datetime

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

    settings = settings_of(ctx)
    with errors_as_exit(), database_errors_as_exit(settings.resolved_database_url()):
        runtime = local_runtime(settings, upgrade=True)
        typer.echo(f"database at revision {migrate.current_revision(runtime.db)}")


@users_app.command("create")
def users_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name, e.g. alice.")],
    role: Annotated[str, typer.Option(help="viewer, responder or admin.")] = "responder",
    password: Annotated[bool, typer.Option("--password", help="Prompt for a password.")] = False,
    service_account: Annotated[
        bool,
        typer.Option(
            "--service-account",
            help="A bot or integration, not one of warroom.yaml's people (whose names it "
            "may not take).",
        ),
    ] = False,
) -> None:
    """Create a user: a person of warroom.yaml (if it lists people) or a service account."""
    from warroom.auth import service as auth
    from warroom.auth import trail, users

    with errors_as_exit():
        auth.check_role(role)
        runtime = local_runtime(settings_of(ctx))
        people = runtime.config().people
        # Checked before the prompt: a refused name should not cost a password typed twice.
        with runtime.db.session() as session:
            users.check_new_name(session, name=name, people=people, service_account=service_account)
    secret = (
        typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    )
    with errors_as_exit(), local_admin() as actor, runtime.db.transaction() as session:
        now = runtime.clock.now()
        user = users.create_account(
            session,
            name=name,
            role=role,
            now=now,
            people=people,
            service_account=service_account,
            password=secret,
        )
        trail.user_created(session, actor=actor, at=now, user=user, via="cli")
        kind = ", service account" if user.service_account else ""
        typer.echo(f"created user {user.name} ({user.role}{kind})")


@users_app.command("list")
def users_list(ctx: typer.Context) -> None:
    """List users: role, person or service account, tokens that still work, disabled."""
    from rich.console import Console
    from rich.table import Table

    from warroom.auth import users

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with runtime.db.session() as session:
            rows = users.user_rows(session, now=runtime.clock.now())
    table = Table("name", "role", "kind", "tokens", "created (UTC)", "disabled (UTC)")
    for row in rows:
        table.add_row(
            row.name,
            row.role,
            "service account" if row.service_account else "person",
            str(row.live_tokens),
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.disabled_at.strftime("%Y-%m-%d %H:%M") if row.disabled_at else "",
        )
    Console().print(table)


@users_app.command("set-role")
def users_set_role(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[str, typer.Argument(help="viewer, responder or admin.")],
) -> None:
    """Change a user's role (the last enabled admin cannot be demoted)."""
    from warroom.auth import service as auth
    from warroom.auth import trail, users

    with errors_as_exit():
        auth.check_role(role)
        runtime = local_runtime(settings_of(ctx))
        with local_admin() as actor, runtime.db.transaction() as session:
            before = auth.get_user(session, name).role
            user = users.set_role(session, name=name, role=role)
            if before != user.role:
                changed = {"from": before, "to": user.role}
                trail.user_changed(
                    session, "user.role", actor=actor, at=runtime.clock.now(), user=name, **changed
                )
            typer.echo(f"{user.name} is now a {user.role}")


@users_app.command("disable")
def users_disable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user.")]
) -> None:
    """Disable a user: their tokens and sessions end at once (the last admin cannot be)."""
    from warroom.auth import trail, users

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with local_admin() as actor, runtime.db.transaction() as session:
            now = runtime.clock.now()
            done = users.disable_user(session, name=name, now=now)
            if not done.already:
                trail.user_changed(
                    session,
                    "user.disable",
                    actor=actor,
                    at=now,
                    user=done.name,
                    tokens_revoked=done.tokens_ended,
                    sessions_ended=done.sessions_ended,
                )
        if done.already:
            typer.echo(f"{done.name} was already disabled")
        else:
            typer.echo(f"disabled {done.name}; {done.tokens_ended} token(s) revoked")


@users_app.command("enable")
def users_enable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user.")]
) -> None:
    """Enable a disabled user; the tokens revoked when they were disabled stay revoked."""
    from warroom.auth import service as auth
    from warroom.auth import trail, users

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with local_admin() as actor, runtime.db.transaction() as session:
            was_disabled = auth.get_user(session, name).disabled_at is not None
            user = users.enable_user(session, name=name)
            if was_disabled:
                trail.user_changed(
                    session, "user.enable", actor=actor, at=runtime.clock.now(), user=user.name
                )
            typer.echo(
                f"enabled {user.name}; create a new token with `warroom tokens create {user.name}`"
            )


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(help="The user the token acts as.")],
    name: Annotated[str, typer.Option("--name", help="A label to recognise the token by.")] = "cli",
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="read, write or calendar; repeat for several (default: read and write). "
            "A calendar token reads only the iCal feeds and is the one kind a calendar URL takes.",
        ),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires", help="When it stops working: 30d, 12h, 2w or an ISO date/time (UTC)."
        ),
    ] = None,
) -> None:
    """Create an API token for USER; the token is printed alone on the last line."""
    from warroom.auth import scopes as token_scopes
    from warroom.auth import service as auth
    from warroom.auth import trail

    with errors_as_exit():
        granted = token_scopes.check_scopes(scope or ())
        runtime = local_runtime(settings_of(ctx))
        now = runtime.clock.now()
        until = token_scopes.parse_expiry(expires, now=now) if expires else None
        with local_admin() as actor, runtime.db.transaction() as session:
            account = auth.get_user(session, user)
            token = auth.create_token(
                session, user=account, name=name, now=now, scopes=granted, expires_at=until
            )
            trail.token_created(
                session,
                actor=actor,
                at=now,
                owner=account.name,
                prefix=auth.public_prefix(token),
                label=name[:64],
                scopes=granted,
                expires_at=until,
            )
        ending = f", expires {token_scopes.stamp(until)}" if until else ""
        typer.echo(
            f"token {name!r} for {account.name} ({account.role}; scope "
            f"{token_scopes.describe(granted)}{ending}); it is shown only once:"
        )
        typer.echo(token)


@tokens_app.command("list")
def tokens_list(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
) -> None:
    """List tokens: prefix, label, user, scopes, expiry, last use, state (never the token).

    The user's role is in `users list`: a token acts with its user's role of the moment.
    """
    from rich.console import Console
    from rich.table import Table

    from warroom.auth import service as auth

    def when(moment: "datetime | None", empty: str = "") -> str:
        return moment.strftime("%Y-%m-%d %H:%M") if moment else empty

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        now = runtime.clock.now()
        with runtime.db.session() as session:
            table = Table()
            # The prefix is what `tokens revoke` takes: never cut it on a narrow terminal.
            table.add_column("prefix", no_wrap=True, min_width=11)
            table.add_column("label")
            table.add_column("user")
            table.add_column("scopes", no_wrap=True)
            for column in (
                "created (UTC)",
                "expires (UTC)",
                "last used (UTC)",
                "state",
            ):
                table.add_column(column)
            for token in auth.list_tokens(session, user=user):
                if token.revoked_at:
                    state = f"revoked {when(token.revoked_at)}"
                elif token.expires_at and token.expires_at <= now:
                    state = "expired"
                else:
                    state = "active"
                table.add_row(
                    token.prefix + "…",
                    token.name,
                    token.user.name,
                    token.scopes.replace(" ", ","),
                    when(token.created_at),
                    when(token.expires_at, "never"),
                    when(token.last_used_at, "never"),
                    state,
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
    from warroom.auth import trail

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with local_admin() as actor, runtime.db.transaction() as session:
            now = runtime.clock.now()
            already = auth.find_token(session, prefix=prefix).revoked_at is not None
            token = auth.revoke_token(session, prefix=prefix, now=now)
            owner = token.user.name
            trail.token_revoked(
                session, actor=actor, at=now, token=token, owner=owner, already=already
            )
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
        (len(config.heartbeats), "heartbeat", "heartbeats"),
        (integrations, "integration", "integrations"),
    ]
    if isinstance(config.drills.participants, list):  # else drills page the real rotation
        opted = len(config.drills.participants)
        counted.append((opted, "drill participant", "drill participants"))
    summary = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in counted)
    typer.echo(f"{where}: ok — {summary}")
    for warning in config_warnings(config):
        typer.echo(f"warning: {warning}", err=True)


@config_app.command("reference")
def config_reference(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: standard output)."),
    ] = None,
) -> None:
    """Print the configuration reference (every WARROOM_* variable and warroom.yaml key)."""
    from warroom.config.reference import render

    text = render()
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: cannot write {output}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {output}")
