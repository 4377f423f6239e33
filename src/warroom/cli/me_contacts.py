"""`warroom me contacts …` and `warroom me rules …`: how you are paged, over HTTP."""

from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_request
from warroom.cli.common import fail, print_json
from warroom.cli.incident import Json
from warroom.cli.incident_render import styled

API = "/api/v1/me/contact-methods"
RULES = "/api/v1/me/notification-rules"
SOURCES = {"own": "their own", "warroom.yaml": "warroom.yaml", "notifications.rules": "defaults"}

contacts_app = typer.Typer(
    rich_markup_mode=None,
    help="Your contact methods: warroom.yaml's and your own (verified by a code).",
    no_args_is_help=True,
)
rules_app = typer.Typer(
    rich_markup_mode=None,
    help="Your notification rules: which methods page you, and after how long.",
    no_args_is_help=True,
)
Name = Annotated[str, typer.Argument(help="The method's name (what rules' `via` names).")]


@contacts_app.command("list")
def contacts_list(as_json: Json = False) -> None:
    """List your contact methods, with where each comes from and whether it is verified."""
    from rich.console import Console
    from rich.table import Table

    answer: dict[str, Any] = api_request("GET", API)
    if as_json:
        print_json(answer)
        return
    if not answer["methods"]:
        typer.echo("you have no contact methods; add one with `warroom me contacts add`")
        return
    table = Table("name", "type", "to", "from", "verified")
    for method in answer["methods"]:
        verified = method["verified"]
        state = "yes" if verified else ("code sent" if method["code_sent_at"] else "no")
        table.add_row(
            styled(method["name"], "bold"),
            styled(method["type"], ""),
            styled(method["to"], ""),
            styled("warroom.yaml (read-only)" if method["read_only"] else "you", ""),
            styled(state, "green" if verified else "yellow"),
        )
    Console().print(table)


@contacts_app.command("add")
def contacts_add(
    name: Name,
    kind: Annotated[str, typer.Argument(metavar="TYPE", help="chat, email, sms, voice or push.")],
    to: Annotated[
        str,
        typer.Argument(help="Slack user id, e-mail address, +E.164 number or apprise URL."),
    ],
) -> None:
    """Add a contact method; a code is sent to it at once (confirm it with `verify`)."""
    body = {"name": name, "type": kind, "to": to}
    added: dict[str, Any] = api_request("POST", API, body)
    typer.echo(
        f"a code was sent to {added['to']}; confirm it with "
        f"`warroom me contacts verify {added['name']} CODE` (valid 15 minutes)"
    )


@contacts_app.command("verify")
def contacts_verify(
    name: Name, code: Annotated[str, typer.Argument(help="The 6-digit code that was sent.")]
) -> None:
    """Confirm a contact method with the code sent to it; pages can use it from then on."""
    api_request("POST", f"{API}/{name}/verify", {"code": code.strip()})
    typer.echo(f"{name} is verified: pages can use it now")


@contacts_app.command("resend")
def contacts_resend(name: Name) -> None:
    """Send a new code to an unverified method (the old one stops working)."""
    answer: dict[str, Any] = api_request("POST", f"{API}/{name}/resend")
    typer.echo(f"a new code was sent to {answer['to']}")


@contacts_app.command("remove")
def contacts_remove(name: Name) -> None:
    """Remove one of your own contact methods (warroom.yaml's are changed there)."""
    answer: dict[str, Any] = api_request("DELETE", f"{API}/{name}")
    typer.echo(f"{name} removed")
    for warning in answer["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


def parse_step(text: str) -> dict[str, Any]:
    """Read `2m:sms,voice` (or `2m: sms, voice`) into `{after, via}`; fail on anything else."""
    after, colon, via = text.partition(":")
    names = [name.strip() for name in via.split(",") if name.strip()]
    if not colon or not after.strip() or not names:
        fail(f"{text!r} is not a step; write it as AFTER:VIA[,VIA…], e.g. 2m:sms,voice")
    return {"after": after.strip(), "via": names}


def _show(answer: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    source = answer["source"]
    if source == "notifications.rules":
        typer.echo("you have no rules of your own: the defaults (notifications.rules) apply")
        groups = answer["by_severity"]
    else:
        typer.echo(f"your rules come from {'you' if source == 'own' else 'warroom.yaml'}")
        groups = {"": answer["steps"]}
    for severity, steps in groups.items():
        table = Table("after", "via", title=severity or None, title_justify="left")
        for step in steps:
            table.add_row(styled(step["after"], "bold"), styled(", ".join(step["via"]), ""))
        Console().print(table)
    for warning in answer["warnings"]:
        typer.echo(f"warning: {warning}", err=True)


@rules_app.command("show")
def rules_show(as_json: Json = False) -> None:
    """Show the rules that page you and where they come from (yours, warroom.yaml, defaults)."""
    answer: dict[str, Any] = api_request("GET", RULES)
    if as_json:
        print_json(answer)
    else:
        _show(answer)


@rules_app.command("set")
def rules_set(
    steps: Annotated[
        list[str],
        typer.Argument(
            metavar="STEP", help='Steps in order, each AFTER:VIA[,VIA…], e.g. "0m:push,chat".'
        ),
    ],
) -> None:
    """Set your own rules, e.g. `warroom me rules set 0m:push,chat 2m:sms 5m:voice`."""
    _show(api_request("PUT", RULES, {"steps": [parse_step(step) for step in steps]}))


@rules_app.command("clear")
def rules_clear() -> None:
    """Drop your own rules: warroom.yaml's or the defaults apply again."""
    api_request("DELETE", RULES)
    typer.echo("your own rules are gone; warroom.yaml's or the defaults apply again")
