"""The `warroom` command. Imports stay lazy so `warroom --help` is instant.

The CLI's modules do without `from __future__ import annotations`: Typer reads every
command's signature at each start, and evaluating them from strings cost a fifth of
`warroom --help` (bench.cli). Types known only to the type checker are quoted instead.
"""

import typer

# These register more `incident` subcommands: handoff|accept|decline|role, edit, grant,
# status-update[s], checklist|check|skip|assign-item; users_password registers
# `users set-password`, users_totp `users reset-2fa`.
from warroom.cli import (  # noqa: F401
    access_cmd,
    checklist_cmd,
    handoff,
    incident_edit,
    status_cmd,
    users_password,
    users_totp,
)
from warroom.cli.actions_cmd import actions_app  # also registers `incident action`
from warroom.cli.admin import config_app, db_app, tokens_app, users_app
from warroom.cli.audit_cmd import audit_app
from warroom.cli.backup_cmd import backup, restore
from warroom.cli.common import CliState
from warroom.cli.db_copy_cmd import copy as db_copy
from warroom.cli.db_prune_cmd import prune as db_prune
from warroom.cli.demo import demo
from warroom.cli.drill_cmd import drill_app
from warroom.cli.engine_cmd import engine
from warroom.cli.evidence_cmd import evidence_app
from warroom.cli.heartbeats_cmd import heartbeats
from warroom.cli.incident import incident_app
from warroom.cli.me_cmd import me_app
from warroom.cli.metrics_cmd import metrics_app
from warroom.cli.notifications_cmd import notifications_app
from warroom.cli.notify_cmd import notify_app
from warroom.cli.oncall import oncall_app
from warroom.cli.postmortem_cmd import postmortem_app
from warroom.cli.runbooks_cmd import runbooks_app
from warroom.cli.search_cmd import search
from warroom.cli.serve import serve
from warroom.cli.silence import silence_app

app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    name="warroom",
    help="Incident response that runs your runbook: detect, triage, escalate, mitigate, learn.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(ctx: typer.Context) -> None:
    """Incident response that runs your runbook: detect, triage, escalate, mitigate, learn."""
    # The one Settings object of this invocation lives here; subcommands take it from the
    # context (cli.common.settings_of) instead of reading the environment themselves.
    ctx.obj = CliState()


app.command("serve")(serve)
app.command("engine")(engine)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(config_app, name="config")
app.add_typer(runbooks_app, name="runbooks")
app.add_typer(incident_app, name="incident")
app.add_typer(oncall_app, name="oncall")
app.add_typer(silence_app, name="silence")
app.command("heartbeats")(heartbeats)
app.add_typer(notifications_app, name="notifications")
app.add_typer(metrics_app, name="metrics")
app.add_typer(actions_app, name="actions")
app.add_typer(postmortem_app, name="postmortem")
app.add_typer(me_app, name="me")
app.add_typer(audit_app, name="audit")
app.command("demo")(demo)
app.add_typer(drill_app, name="drill")
app.add_typer(evidence_app, name="evidence")
app.add_typer(notify_app, name="notify")
db_app.command("copy")(db_copy)
db_app.command("prune")(db_prune)
app.command("backup")(backup)
app.command("restore")(restore)
app.command("search")(search)


def run() -> None:
    """Entry point of the console script."""
    app()
