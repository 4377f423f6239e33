"""`warroom notify test PERSON`: a test page through each contact method, now, locally."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from warroom.cli.common import errors_as_exit, fail, local_admin, local_runtime, settings_of

if TYPE_CHECKING:
    from warroom.config import WarroomConfig
    from warroom.escalation.contacts import Method
    from warroom.notify.ports import Adapters
    from warroom.runtime import Runtime

notify_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Try paging before it matters: send test pages through people's contact methods.",
    no_args_is_help=True,
)
URGENCIES = ("min", "low", "default", "high", "max")
STYLES = {"sent": "green", "failed": "bold red", "not configured": "yellow", "not verified": "dim"}


@dataclass(frozen=True)
class Outcome:
    """What came of one contact method: sent (with the provider's id), failed, or skipped."""

    method: "Method"
    status: str  # sent | failed | not configured | not verified
    detail: str = ""  # the provider's id, the reason, or the setting that is missing

    def text(self) -> str:
        """Return the outcome as the table shows it."""
        if self.status == "sent":
            return f"sent ({self.detail})" if self.detail else "sent"
        return f"{self.status}: {self.detail}" if self.detail else self.status


@notify_app.command("test")
def send_test_pages(
    ctx: typer.Context,
    person: Annotated[
        str, typer.Argument(metavar="PERSON", help="The person's id in warroom.yaml (alice).")
    ],
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            metavar="NAME_OR_TYPE",
            help="Only this contact method: its name (mobile) or a type (chat, email, sms, "
            "voice, push).",
        ),
    ] = None,
) -> None:
    """Send a test page through each of PERSON's contact methods now, and report each outcome.

    Pages go out at once, through the integrations warroom.yaml configures (run it where the
    server runs, with its WARROOM_CONFIG and secrets). Each says it is a test: no incident,
    nothing to acknowledge. Methods added through the API and not verified yet are listed,
    not used. Exit code 0 when every page that was tried went out, 1 otherwise.
    """
    with errors_as_exit(), local_admin() as actor:
        runtime = local_runtime(settings_of(ctx), sends=True)
        try:
            outcomes = _test(runtime, person, method)
            _record(runtime, actor, person, outcomes)
        finally:
            runtime.close()
    _show(outcomes)
    failed = [o for o in outcomes if o.status == "failed"]
    for outcome in failed:
        typer.echo(
            f"error: {outcome.method.name} ({outcome.method.kind}) failed: {outcome.detail}",
            err=True,
        )
    if failed:
        raise typer.Exit(1)
    if not any(o.status == "sent" for o in outcomes):
        fail(f"no test page went out to {person}: see the table for why")


def _test(runtime: "Runtime", person: str, method: str | None) -> list[Outcome]:
    """Send the test pages (or exit 1 naming what is wrong); return what came of each."""
    from warroom.escalation.contacts import Directory
    from warroom.organisation import check_person

    config = runtime.config()
    someone = config.person(person)
    if someone is None:
        check_person(config.people, person, field="PERSON")  # raises, with a suggestion
        fail(f"unknown person {person!r} (people are configured in warroom.yaml)")
    with runtime.db.session() as session:
        methods = Directory(session, config).methods(person)
    if not methods:
        fail(
            f"{person} has no contact method: give them slack, email, phone or "
            "contact_methods in warroom.yaml, or let them add one through the API"
        )
    if method is not None:
        chosen = [m for m in methods if method in (m.name, m.kind)]
        if not chosen:
            have = ", ".join(f"{m.name} ({m.kind})" for m in methods)
            fail(f"{person} has no contact method named or of type {method!r}; they have {have}")
        methods = chosen
    with runtime.adapters_in_use() as adapters:
        return [_try(m, adapters, config, someone.name, person) for m in methods]


def _try(
    method: "Method", adapters: "Adapters", config: "WarroomConfig", name: str, person: str
) -> Outcome:
    """Send one test page through the method, or say why not."""
    import secrets

    from warroom.escalation.contacts import NEEDS
    from warroom.notify.adapters import channels_of
    from warroom.notify.ports import DeliveryError

    if not method.verified:
        return Outcome(method, "not verified")
    if method.kind not in channels_of(adapters):
        return Outcome(method, "not configured", NEEDS.get(method.kind, method.kind))
    key = f"notify-test:{person}:{method.name}:{secrets.token_hex(4)}"
    try:
        sent = _send(method, adapters, config, name, key)
    except DeliveryError as exc:
        return Outcome(method, "failed", _clean(method, str(exc)))
    except Exception as exc:  # a test reports every method, whatever one of them raises
        return Outcome(method, "failed", _clean(method, f"{type(exc).__name__}: {exc}"))
    return Outcome(method, "sent", sent or "")


def _send(
    method: "Method", adapters: "Adapters", config: "WarroomConfig", name: str, key: str
) -> str | None:
    """Send the test page through the adapter of the method's kind; return the provider's id."""
    from warroom.notify.ports import PushNote

    title = f"warroom test page for {name}"
    text = f"{title}: no incident, nothing to acknowledge"
    to = method.address
    if method.kind == "chat" and adapters.chat is not None:
        return adapters.chat.post(channel=to, text=text, key=key)
    if method.kind == "email" and adapters.mailer is not None:
        return adapters.mailer.send(to=[to], subject=title, text=text, html=None, key=key)
    if method.kind == "sms" and adapters.phone is not None:
        return adapters.phone.send_sms(to=to, body=text, key=key, status_callback=None)
    if method.kind == "voice" and adapters.phone is not None:
        return adapters.phone.call(
            to=to, text=f"{text}.", gather_url=None, key=key, status_callback=None
        )
    if method.kind == "push" and adapters.push is not None:
        # As loud as the most urgent page would be: the test shows how a real one arrives.
        settings = config.integrations.push
        mapped = set(settings.urgency.values()) if settings is not None else set()
        urgency = max(mapped & set(URGENCIES) or {"high"}, key=URGENCIES.index)
        note = PushNote(title=title, body=text, urgency=urgency)  # type: ignore[arg-type]
        return adapters.push.push(url=to, note=note, key=key)
    raise AssertionError(f"no adapter sends {method.kind}")  # channels_of said there is one


def _clean(method: "Method", reason: str) -> str:
    """Return a failure's reason without the push URL (it carries the topic or key)."""
    if method.kind != "push":
        return reason
    from warroom.notify.push import scrub

    return scrub(reason, method.address)


def shown(kind: str, address: str) -> str:
    """Return the address as the table shows it: enough to recognise, not to copy."""
    if kind in ("sms", "voice"):
        return f"{address[:3]}•••••{address[-4:]}" if len(address) > 8 else "•••"
    if kind == "email":
        local, _, domain = address.partition("@")
        return f"{local[:1]}•••@{domain}"
    if kind == "push":
        from warroom.notify.push import masked

        return masked(address)
    return address  # a Slack user id names no one outside the workspace


def _record(runtime: "Runtime", actor: str, person: str, outcomes: list[Outcome]) -> None:
    """Keep who sent test pages to whom, and what came of them, in the audit log."""
    from warroom.audit import service as audit

    failed = any(o.status == "failed" for o in outcomes)
    details = {o.method.name: o.status for o in outcomes}
    with runtime.db.transaction() as session:
        audit.record(
            session,
            "notify.test",
            actor=actor,
            at=runtime.clock.now(),
            target=person,
            outcome="failed" if failed else "ok",
            details=details,
        )


def _show(outcomes: list[Outcome]) -> None:
    """Print the outcomes as a table."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("method", "type", "address", "outcome")
    for column in table.columns[:3]:
        column.no_wrap = True
    table.columns[3].overflow = "fold"  # a provider's id is one long word: show all of it
    for outcome in outcomes:
        method = outcome.method
        style = STYLES.get(outcome.status, "")
        address = shown(method.kind, method.address)
        table.add_row(method.name, method.kind, address, Text(outcome.text(), style))
    Console().print(table)
