"""`warroom users reset-2fa`: registered on the users app from here, beside admin.py."""

from typing import Annotated

import typer

from warroom.cli.admin import users_app
from warroom.cli.common import errors_as_exit, local_admin, local_runtime, settings_of


@users_app.command("reset-2fa")
def users_reset_2fa(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The user whose two-factor sign-in is reset.")],
) -> None:
    """Turn off USER's two-factor sign-in (a lost phone) and end their browser sessions."""
    from warroom.auth import second_factor, trail

    with errors_as_exit():
        runtime = local_runtime(settings_of(ctx))
        with local_admin() as actor, runtime.db.transaction() as session:
            now = runtime.clock.now()
            done = second_factor.reset(session, name=name, now=now)
            trail.user_changed(
                session,
                "user.totp",
                actor=actor,
                at=now,
                user=done.name,
                change="reset",
                had_totp=done.had_totp,
                sessions_ended=done.sessions_ended,
            )
    sessions = "session" if done.sessions_ended == 1 else "sessions"
    what = "reset" if done.had_totp else "was not on (any enrolment under way was dropped)"
    typer.echo(
        f"two-factor sign-in of {done.name} {what}; {done.sessions_ended} browser {sessions} "
        "ended; they sign in with the password alone and can enrol again"
    )
