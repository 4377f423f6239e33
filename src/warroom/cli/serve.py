"""`warroom serve`: the API and pages (and, in later releases, the engine) in one process."""

from __future__ import annotations

from typing import Annotated

import typer

from warroom.cli.common import errors_as_exit


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    no_engine: Annotated[
        bool, typer.Option("--no-engine", help="Serve HTTP only; run `warroom engine` elsewhere.")
    ] = False,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
) -> None:
    """Serve warroom over HTTP; the database is upgraded first."""

    import uvicorn

    from warroom import logs
    from warroom.app import create_app
    from warroom.auth import service as auth
    from warroom.cli.common import local_runtime
    from warroom.config import Settings

    settings = Settings()
    logs.setup(settings.log_level, log_format or settings.log_format)
    with errors_as_exit():
        runtime = local_runtime(upgrade=True)
        with runtime.db.transaction() as session:
            first = auth.bootstrap_admin(session, now=runtime.clock.now())
    if first is not None:
        password, token = first
        url = f"http://{host}:{port}"
        typer.echo(
            "\nwarroom: this is a new database, so an admin user was created.\n"
            f"  user: admin    password: {password}\n"
            f"  API token (shown only this once): {token}\n\n"
            "Use the CLI against this server with:\n"
            f"  export WARROOM_URL={url}\n"
            f"  export WARROOM_TOKEN={token}\n"
            "  warroom incident list\n"
            f"API explorer: {url}/docs\n"
        )
    _ = no_engine  # the escalation engine arrives with notifications; nothing to start yet
    uvicorn.run(
        create_app(runtime), host=host, port=port, log_config=None, timeout_graceful_shutdown=30
    )
