"""`warroom me …`: your own two-factor sign-in, contact methods and rules, over HTTP."""

import sys
from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_client, api_request
from warroom.cli.common import fail, print_json

me_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="You, the token's user: your two-factor sign-in, how you are paged (contacts, rules).",
    no_args_is_help=True,
)
totp_app = typer.Typer(
    rich_markup_mode=None,
    help="Two-factor sign-in (TOTP) for your password sign-in in the browser.",
    no_args_is_help=True,
)
me_app.add_typer(totp_app, name="totp")

API = "/api/v1/me/totp"
TRIES = 3  # wrong first codes before `enable` gives up (the enrolment stays, to confirm later)


def _show_qr(uri: str) -> None:
    """Draw the otpauth URI as a QR code with Unicode half blocks (two modules a character)."""
    import segno

    segno.make(uri, error="m").terminal(out=sys.stdout, compact=True)


def _print_codes(codes: list[str]) -> None:
    typer.echo("Recovery codes (shown once; each signs in once instead of a code):")
    for code in codes:
        typer.echo(f"  {code}")
    typer.echo("Keep them apart from your phone, e.g. in a password manager.")


@totp_app.command("enable")
def totp_enable(
    qr: Annotated[
        bool, typer.Option("--qr/--no-qr", help="Draw the QR code to scan in the terminal.")
    ] = True,
) -> None:
    """Turn on two-factor sign-in: your password, scan the QR code, type its code."""
    from warroom.cli.client import ApiError

    password = typer.prompt("Your password", hide_input=True)
    api = api_client()
    try:
        enrolment = api_request("POST", API, {"password": password}, api=api)
        if qr:
            _show_qr(enrolment["otpauth_uri"])
        typer.echo(f"Secret (to type in instead of scanning): {enrolment['secret']}")
        typer.echo(f"URI: {enrolment['otpauth_uri']}")
        for attempt in range(1, TRIES + 1):
            code = typer.prompt("Code shown by the app").strip()
            try:
                answer = api.request("POST", f"{API}/confirm", json={"code": code})
            except ApiError as exc:
                if exc.status != 422 or attempt == TRIES:
                    fail(
                        f"{exc.message} (the enrolment waits: `warroom me totp confirm CODE` "
                        "turns it on, `warroom me totp enable` starts over)"
                    )
                typer.echo(f"{exc.message}; try again", err=True)
                continue
            break
    finally:
        api.close()
    typer.echo("two-factor sign-in is on: sign-in now asks for a code after the password")
    _print_codes(answer["recovery_codes"])


@totp_app.command("confirm")
def totp_confirm(code: Annotated[str, typer.Argument(help="The code the app shows.")]) -> None:
    """Turn on an enrolment started with `enable` (or POST /api/v1/me/totp) with its first code."""
    answer = api_request("POST", f"{API}/confirm", {"code": code.strip()})
    typer.echo("two-factor sign-in is on")
    _print_codes(answer["recovery_codes"])


@totp_app.command("status")
def totp_status(
    json: Annotated[bool, typer.Option("--json", help="Print the server's JSON response.")] = False,
) -> None:
    """Say whether two-factor sign-in is on and how many recovery codes are left."""
    state: dict[str, Any] = api_request("GET", API)
    if json:
        print_json(state)
    elif state["enabled"]:
        since = str(state["confirmed_at"])[:16].replace("T", " ")
        typer.echo(
            f"two-factor sign-in is on (since {since} UTC); "
            f"{state['recovery_codes_left']} recovery code(s) left"
        )
    elif state["pending"]:
        typer.echo(
            "two-factor sign-in is off; an enrolment waits for `warroom me totp confirm CODE`"
        )
    else:
        typer.echo("two-factor sign-in is off; turn it on with `warroom me totp enable`")


@totp_app.command("disable")
def totp_disable(
    code: Annotated[
        str | None, typer.Option("--code", help="A current code or a recovery code.")
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Prove it with your password (asked, hidden).")
    ] = False,
) -> None:
    """Turn off two-factor sign-in; needs a current code, a recovery code or your password."""
    if password:
        body = {"password": typer.prompt("Password", hide_input=True)}
    else:
        body = {"code": (code or typer.prompt("Current code or recovery code")).strip()}
    api_request("DELETE", API, body)
    typer.echo("two-factor sign-in is off; the password alone signs in again")


@totp_app.command("recovery-codes")
def totp_recovery_codes(
    code: Annotated[str | None, typer.Option("--code", help="A current code from the app.")] = None,
) -> None:
    """Replace your recovery codes with 10 new ones (the old ones stop working)."""
    given = (code or typer.prompt("Current code")).strip()
    answer = api_request("POST", f"{API}/recovery-codes", {"code": given})
    _print_codes(answer["recovery_codes"])


# Your contact methods and notification rules (cli/me_contacts.py).
from warroom.cli.me_contacts import contacts_app, rules_app  # noqa: E402

me_app.add_typer(contacts_app, name="contacts")
me_app.add_typer(rules_app, name="rules")
