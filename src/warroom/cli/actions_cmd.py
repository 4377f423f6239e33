"""`warroom actions list` and `warroom incident action`: run configured actions over HTTP."""

from typing import Annotated, Any

import typer

from warroom.cli.api_calls import api_client, api_request, explain_error
from warroom.cli.common import fail, print_json
from warroom.cli.incident import API, Json, Ref, incident_app
from warroom.cli.incident_render import styled

actions_app = typer.Typer(
    rich_markup_mode=None,  # plain help: rich's formatter alone costs 60 ms of start-up
    help="Automated actions from warroom.yaml (rollbacks, flags, blocks).",
    no_args_is_help=True,
)

ACTIONS_API = "/api/v1/actions"
SLACK = 15.0  # seconds the CLI waits beyond the action's own timeout


def _check_params(values: list[str] | None) -> list[str] | None:
    """Check each `NAME=VALUE` pair (the server checks names and patterns)."""
    for value in values or []:
        key, sep, _ = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{value!r} is not NAME=VALUE, e.g. user=mallory")
    return values


@actions_app.command("list")
def list_actions(as_json: Json = False) -> None:
    """List the configured actions, their params and which are dangerous."""
    from rich.console import Console
    from rich.table import Table

    answer: dict[str, Any] = api_request("GET", ACTIONS_API)
    if as_json:
        print_json(answer)
        return
    if not answer["items"]:
        typer.echo("no actions configured (see actions: in warroom.yaml)")
        return
    table = Table("name", "type", "dangerous", "params", "roles", "description")
    for item in answer["items"]:
        params = [p["name"] + ("" if p["required"] else "?") for p in item["params"]]
        table.add_row(
            styled(item["name"], "bold"),
            styled(item["type"], ""),
            styled("yes" if item["dangerous"] else "no", "bold red" if item["dangerous"] else ""),
            styled(", ".join(params)),
            styled(", ".join(item["allowed_roles"]), ""),
            styled(item["description"], ""),
        )
    Console().print(table)


@incident_app.command("action")
def run_action(
    ref: Ref,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The action, from `actions list`.")],
    param: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=VALUE",
            help="A value the action takes, e.g. user=mallory; repeat for more.",
            callback=_check_params,
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Run a dangerous action without asking.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Run action NAME for REF and print its output; exit 1 if it failed or timed out."""
    import os

    from warroom.cli.client import ApiClient, ApiError

    params = {}
    for value in param or []:
        key, _, text = value.partition("=")
        params[key.strip()] = text
    api = api_client()
    try:
        listed: dict[str, Any] = api_request("GET", ACTIONS_API, api=api)
        found = next((a for a in listed["items"] if a["name"] == name), None)
        if found is None:
            known = ", ".join(a["name"] for a in listed["items"]) or "none"
            fail(f"no action {name!r}; configured: {known}")
        if found["dangerous"] and not yes:
            question = f"{name} is dangerous: {found['description'] or 'no description'}. Run it?"
            if not typer.confirm(question, default=False, err=True):
                fail("not run: not confirmed")
    finally:
        api.close()
    # The server answers once the action ends, which may take up to its timeout.
    runner = ApiClient(
        api.base_url, os.environ.get("WARROOM_TOKEN"), timeout=found["timeout"] + SLACK
    )
    body = {"params": params, "confirm": bool(found["dangerous"])}
    try:
        result: dict[str, Any] = runner.request("POST", f"{API}/{ref}/actions/{name}", json=body)
    except ApiError as exc:
        if exc.code != "action_timed_out" or not isinstance(exc.details, dict):
            fail(explain_error(exc))
        result = exc.details  # stopped at its timeout: show what it printed, then exit 1
    finally:
        runner.close()
    if as_json:
        print_json(result)
    else:
        _show(result)
    if not result["ok"]:
        raise typer.Exit(1)


def _show(result: dict[str, Any]) -> None:
    """Print the captured output, then one line saying how it ended."""
    for text, err in ((result["stdout"], False), (result["body"], False), (result["stderr"], True)):
        if text:
            typer.echo(text.rstrip("\n"), err=err)
    took = f"{result['duration_ms'] / 1000:.1f}s"
    if result["timed_out"]:
        ended = f"timed out after {took} and was stopped"
    elif result["exit_code"] is not None:
        ended = f"exit code {result['exit_code']} in {took}"
    elif result["status_code"] is not None:
        ended = f"HTTP {result['status_code']} in {took}"
    else:
        ended = result["error"] or "failed"
    verdict = "ok" if result["ok"] else "FAILED"
    typer.echo(f"{result['action']} on {result['incident']}: {verdict}, {ended}")
