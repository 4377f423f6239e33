"""`warroom users set-password`: registered on the users app from here, beside admin.py."""

import sys
from typing import Annotated

import typer

from warroom.cli.admin import users_app
from warroom.cli.common import errors_as_exit, local_admin, local_runtime, settings_of


@users_app.command("set-password")
def users_set_password(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user whose password changes.")],
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin's first line."),
    ] = False,
) -> None:
    """Set USER's password (asked twice) and end all of their browser sessions."""
    from warroom.auth import passwords, trail

    if password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with errors_as_exit():
        passwords.check_new_password(secret)  # before opening the database: nothing to undo
        runtime = local_runtime(settings_of(ctx))
        with local_admin() as actor, runtime.db.transaction() as session:
            now = runtime.clock.now()
            ended = passwords.set_password(session, name=name, password=secret, now=now)
            trail.user_changed(
                session, "user.password", actor=actor, at=now, user=name, sessions_ended=ended
            )
    sessions = "session" if ended == 1 else "sessions"
    typer.echo(f"password of {name} changed; {ended} browser {sessions} ended")
    if not runtime.config().auth.password_sign_in:
        typer.echo(
            "note: password sign-in is turned off (auth.password_sign_in: false): this password "
            "is of no use until it is turned on again; browsers sign in with single sign-on",
            err=True,
        )
