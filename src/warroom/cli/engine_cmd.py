"""`warroom engine`: the escalation engine and outbox sender without the HTTP server."""

from typing import Annotated

import typer

from warroom.cli.common import errors_as_exit, settings_of


def engine(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Run one tick and send what is due, then exit.")
    ] = False,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
) -> None:
    """Run the escalation engine against the configured database until SIGTERM or Ctrl-C.

    Run it beside `warroom serve --no-engine`, or as extra instances: engines share the
    work through the database (each step and each message is taken by one of them).
    """
    import signal
    import threading

    from warroom import logs
    from warroom.cli.common import local_runtime
    from warroom.cli.serve import reload_on_sighup

    settings = settings_of(ctx)
    logs.setup(settings.log_level, log_format or settings.log_format)
    with errors_as_exit():
        runtime = local_runtime(settings, upgrade=True, sends=True)
    if once:
        sent = runtime.engine.run_once()
        runtime.close()
        typer.echo(f"sent {sent} notification(s)")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    reload_on_sighup(runtime)
    runtime.engine.start()
    typer.echo(f"warroom engine running ({runtime.engine.owner}); Ctrl-C stops it", err=True)
    stop.wait()
    runtime.close()  # finishes the tick in progress and hands back unsent claims
