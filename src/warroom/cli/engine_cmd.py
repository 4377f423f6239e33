"""`warroom engine`: the escalation engine and outbox sender without the HTTP server."""

from typing import TYPE_CHECKING, Annotated

import typer

from warroom.cli.common import errors_as_exit, settings_of

if TYPE_CHECKING:
    import socket

    from warroom.runtime import Runtime


def engine(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Run one tick and send what is due, then exit.")
    ] = False,
    log_format: Annotated[str | None, typer.Option(help="text or json.")] = None,
    host: Annotated[
        str, typer.Option(help="Address of the /healthz, /readyz and /metrics port.")
    ] = "127.0.0.1",
    port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Serve /healthz, /readyz and /metrics here (e.g. 9090)."
        ),
    ] = None,
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
    # Bound before anything starts: a port in use is one line and exit 1, not an engine that
    # starts and stops again.
    listener = _listen(host, port) if port is not None and not once else None
    with errors_as_exit():
        runtime = local_runtime(settings, upgrade=True, sends=True)
    if once:
        sent = runtime.engine.run_once()
        runtime.close()
        typer.echo(f"sent {sent} notification(s)")
        return
    stop = threading.Event()
    # With --port, uvicorn takes these signals while it serves, then restores these handlers
    # and raises the signal again: it must land here, not in the default handler, which would
    # kill the process before the engine hands back its claims.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    reload_on_sighup(runtime)
    runtime.engine.start()
    typer.echo(f"warroom engine running ({runtime.engine.owner}); Ctrl-C stops it", err=True)
    if listener is not None:
        try:
            if not stop.is_set():  # a signal that came during start-up is not lost
                _serve_health(runtime, listener)
        finally:
            runtime.close()  # finishes the tick in progress and hands back unsent claims
        return
    stop.wait()
    runtime.close()  # finishes the tick in progress and hands back unsent claims


def _listen(host: str, port: int) -> "socket.socket":
    """Return a socket listening on host:port, or fail with one line naming the address."""
    import socket

    from warroom.cli.common import fail

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    return sock


def _serve_health(runtime: "Runtime", listener: "socket.socket") -> None:
    """Serve the engine's health and metrics until SIGTERM or Ctrl-C (uvicorn catches them)."""
    import uvicorn

    from warroom.api.health import exposition, readiness
    from warroom.engine.http import health_app

    app = health_app(lambda: readiness(runtime), lambda: exposition(runtime))
    config = uvicorn.Config(app, log_config=None, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[listener])
