"""`warroom demo`: replay the runbook's two examples through the public API."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from warroom.cli.common import errors_as_exit, fail, local_runtime, print_json, settings_of

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

    import httpx
    from anyio.from_thread import BlockingPortal
    from fastapi import FastAPI
    from rich.console import Console

    from warroom.cli.client import ApiClient
    from warroom.cli.demo_scenarios import Scenario, Step
    from warroom.runtime import Runtime

DEFAULT_URL = "http://127.0.0.1:8080"
LOCAL_URL = "http://warroom.local"
DEMO_USER = "demo"
INCIDENTS = "/api/v1/incidents"


def demo(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="Server to replay on (default WARROOM_URL).", show_default=False
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", help="A responder's API token (default WARROOM_TOKEN).", show_default=False
        ),
    ] = None,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Run in-process on the local database as user 'demo' (the default "
            "when no token is set).",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON summary instead of text.")
    ] = False,
) -> None:
    """Replay the runbook's two examples (High CPU, Data breach) through the HTTP API."""
    import os

    from rich.console import Console

    if local and (url or token):
        fail("--local runs on the local database; leave out --url and --token")
    token = token or os.environ.get("WARROOM_TOKEN") or None
    if url and not token:
        fail("--url needs a token: pass --token or set WARROOM_TOKEN (or use --local)")
    # Progress goes to stderr under --json so stdout stays one JSON document.
    console = Console(stderr=as_json, highlight=False)
    tick = "[green]✓[/green]" if console.encoding.startswith("utf") else "[green]+[/green]"

    def say(text: str) -> None:
        console.print(f"{tick} {text}", soft_wrap=True)

    def heading(text: str) -> None:
        console.print(f"\n[bold]{_esc(text)}[/bold]", soft_wrap=True)

    with errors_as_exit():
        if token and not local:
            target = url or os.environ.get("WARROOM_URL") or DEFAULT_URL
            console.print(f"Replaying the runbook's examples on {_esc(target)}", soft_wrap=True)
            with _remote_client(target, token) as api:
                incidents = _play_all(api, say, heading)
            summary = _summary(target, incidents, None)
        else:
            runtime = local_runtime(settings_of(ctx), sends=True)
            try:
                console.print(
                    "Replaying the runbook's examples on the local database as user "
                    f"{DEMO_USER!r}; runbook files in {_esc(str(runtime.runbooks.root))}",
                    soft_wrap=True,
                )
                with _local_client(runtime) as api:
                    incidents = _play_all(api, say, heading)
                summary = _summary("local", incidents, runtime)
            finally:
                runtime.db.dispose()
    if as_json:
        print_json(summary)
    else:
        _print_summary(console, summary)


def _esc(text: str) -> str:
    """Escape Rich markup in text that came from outside."""
    from rich.markup import escape

    return escape(text)


def _play_all(
    api: "ApiClient", say: "Callable[[str], None]", heading: "Callable[[str], None]"
) -> "list[tuple[Scenario, dict[str, Any]]]":
    """Play every scenario; return each with its incident as the server last showed it."""
    from warroom.cli.demo_scenarios import SCENARIOS

    played = []
    for scenario in SCENARIOS:
        heading(scenario.name)
        played.append((scenario, _play(api, scenario, say)))
    return played


def _play(api: "ApiClient", scenario: "Scenario", say: "Callable[[str], None]") -> dict[str, Any]:
    """Declare the scenario's incident and run its steps, one API call and one line each."""
    from rich.markup import escape

    from warroom.cli.client import ApiError

    def call(path: str, body: Any, what: str) -> Any:
        try:
            return api.post(path, body)
        except ApiError as exc:
            fail(f"{scenario.name}: {what}: {exc.message}")

    incident: dict[str, Any] = call(INCIDENTS, scenario.declare, "declare")
    ref = incident["ref"]
    say(
        f"[bold]{ref}[/bold] Detection: {escape(scenario.declare_label)} — "
        f"{escape(incident['title'])} ({incident['severity']}, {incident['visibility']})"
    )
    for step in scenario.steps:
        if step.action in ("note", "verify", "postmortem"):
            _run_step(api, ref, step, call)
            say(f"[bold]{ref}[/bold] {step.phase}: {escape(step.label)}")
        else:
            incident = call(f"{INCIDENTS}/{ref}/{step.action}", step.body, f"{ref} {step.action}")
            say(
                f"[bold]{ref}[/bold] {step.phase}: {escape(step.label)} "
                f"(status {incident['status']})"
            )
    return incident


def _run_step(
    api: "ApiClient", ref: str, step: "Step", call: "Callable[[str, Any, str], Any]"
) -> None:
    """Run a step that is not an incident action: a note, the verification, the postmortem."""
    from warroom.cli.client import ApiError

    if step.action == "note":
        call(f"{INCIDENTS}/{ref}/timeline", step.body, f"{ref} note")
        return
    try:
        if step.action == "postmortem":
            api.request("PUT", f"{INCIDENTS}/{ref}/postmortem", json=step.body)
            return
        checklist = api.get(f"{INCIDENTS}/{ref}/checklist")
        for section in checklist["sections"]:
            if section["name"].casefold() != "verification":
                continue
            for item in section["items"]:
                if item["state"] == "open":
                    body = {"done": True, "note": (step.body or {}).get("note")}
                    api.patch(f"{INCIDENTS}/{ref}/checklist/{item['id']}", body)
    except ApiError as exc:
        fail(f"{ref} {step.action}: {exc.message}")


def _summary(
    target: str, incidents: "list[tuple[Scenario, dict[str, Any]]]", runtime: "Runtime | None"
) -> dict[str, Any]:
    """Return the run's outcome: target and, per example, the incident and its runbook file."""
    from warroom.incidents.schemas import IncidentDetail

    items = []
    for scenario, incident in incidents:
        runbook_file = None
        if runtime is not None:
            path = runtime.runbooks.path_for(IncidentDetail.model_validate(incident))
            runbook_file = str(path.resolve())
        items.append(
            {
                "example": scenario.name,
                "ref": incident["ref"],
                "title": incident["title"],
                "status": incident["status"],
                "severity": incident["severity"],
                "visibility": incident["visibility"],
                "commander": incident["commander"],
                "runbook_file": runbook_file,
            }
        )
    return {"target": target, "incidents": items}


def _print_summary(console: "Console", summary: dict[str, Any]) -> None:
    """Print one line per incident, with its runbook file when it is local."""
    from pathlib import Path

    from rich.markup import escape

    console.print(f"\n[bold]Done.[/bold] {len(summary['incidents'])} incidents replayed:")
    for item in summary["incidents"]:
        console.print(
            f"  [bold]{item['ref']}[/bold] {item['status']:<9} {escape(item['title'])}",
            soft_wrap=True,
        )
        if item["runbook_file"]:
            path = Path(item["runbook_file"])
            shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
            missing = "" if path.exists() else " (not written yet: run `warroom runbooks sync`)"
            console.print(f"      runbook: {escape(str(shown))}{missing}", soft_wrap=True)


def _remote_client(url: str, token: str) -> "AbstractContextManager[ApiClient]":
    """Return a client of the server at `url` that marks its events with source "demo"."""
    from contextlib import closing

    from warroom.cli.client import ApiClient

    return closing(ApiClient(url, token, client_name="demo"))


def _local_client(runtime: "Runtime") -> "AbstractContextManager[ApiClient]":
    """Return a client of the app served in-process on `runtime`, acting as user `demo`."""
    from contextlib import contextmanager

    @contextmanager
    def session() -> "Iterator[ApiClient]":
        from anyio.from_thread import start_blocking_portal

        from warroom.app import create_app
        from warroom.cli.client import ApiClient

        token = _demo_token(runtime)
        with start_blocking_portal() as portal:
            transport = _in_process_transport(create_app(runtime), portal)
            api = ApiClient(LOCAL_URL, token, client_name="demo", transport=transport)
            try:
                yield api
            finally:
                api.close()

    return session()


def _demo_token(runtime: "Runtime") -> str:
    """Create (or reuse) the responder `demo` and return a fresh token for it."""
    from warroom.auth import service as auth
    from warroom.core.errors import NotFound
    from warroom.incidents.actor import ROLES

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        try:
            user = auth.get_user(session, DEMO_USER)
        except NotFound:
            user = auth.create_user(
                session, name=DEMO_USER, role="responder", now=now, service_account=True
            )
        if user.disabled_at is not None:
            fail(f"user {DEMO_USER!r} is disabled; enable it or use --url/--token")
        if ROLES.index(user.role) < ROLES.index("responder"):
            fail(f"user {DEMO_USER!r} is a {user.role}; the demo needs a responder")
        # Earlier runs' tokens were never shown to anyone: retire them rather than pile up.
        for old in auth.list_tokens(session, user=DEMO_USER):
            if old.name == "demo" and old.revoked_at is None:
                old.revoked_at = now
        return auth.create_token(session, user=user, name="demo", now=now)


def _in_process_transport(app: "FastAPI", portal: "BlockingPortal") -> "httpx.BaseTransport":
    """Return a sync transport that hands each request to the ASGI app on `portal`'s loop."""
    import httpx

    asgi = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    class InProcess(httpx.BaseTransport):
        """httpx's ASGI transport is async-only; this runs it from synchronous code."""

        def handle_request(self, request: "httpx.Request") -> "httpx.Response":
            body = request.read()
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )

            async def send() -> "httpx.Response":
                response = await asgi.handle_async_request(forwarded)
                try:
                    raw = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
                return httpx.Response(
                    response.status_code, headers=response.headers, stream=httpx.ByteStream(raw)
                )

            return portal.call(send)

    return InProcess()
