"""`warroom serve`: the API, the pages and the escalation engine in one process."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated

import typer

from warroom.cli.common import errors_as_exit

if TYPE_CHECKING:
    from warroom.runtime import Runtime


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    no_engine: Annotated[
        bool, typer.Option("--no-engine", help="Serve HTTP only; run `warroom engine` elsewhere.")
    ] = False,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
    workers: Annotated[
        int,
        typer.Option(min=1, max=64, help="Worker processes sharing the port (uses more cores)."),
    ] = 1,
) -> None:
    """Serve warroom over HTTP; the database is upgraded first."""

    import gc

    import uvicorn

    from warroom import logs
    from warroom.app import create_app
    from warroom.auth import service as auth
    from warroom.cli.common import local_runtime
    from warroom.settings import Settings

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
    if workers > 1:
        os.environ["WARROOM_ENGINE"] = "0" if no_engine else "1"
        # Each worker builds its own runtime from the same environment (see app.worker_app);
        # the supervisor restarts them on SIGHUP, which re-reads warroom.yaml.
        runtime.close()
        uvicorn.run(
            "warroom.app:worker_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_config=None,
            timeout_graceful_shutdown=30,
        )
        return
    app = create_app(runtime)
    reload_on_sighup(runtime)
    if not no_engine:
        runtime.engine.start()
    # Start-up objects live as long as the process: keep them out of later GC passes, which
    # otherwise cost 50-100 ms pauses on a busy server.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=30)
    runtime.close()  # finish queued intake work before the process ends


def reload_on_sighup(runtime: Runtime) -> None:
    """Re-read warroom.yaml on SIGHUP; a bad file is logged and the last good one stays."""
    import logging
    import signal

    from warroom.core.errors import ConfigError

    log = logging.getLogger("warroom")

    def handle(_signum: int, _frame: object) -> None:
        try:
            runtime.reload_config()
        except ConfigError as exc:
            log.error("configuration not reloaded, keeping the last good one: %s", exc.message)

    signal.signal(signal.SIGHUP, handle)
