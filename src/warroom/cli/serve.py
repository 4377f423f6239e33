"""`warroom serve`: the API, the pages and the escalation engine in one process."""

from typing import TYPE_CHECKING, Annotated

import typer

from warroom.cli.common import errors_as_exit, settings_of, warroom_command

if TYPE_CHECKING:
    import threading

    from warroom.runtime import Runtime

# How long SIGTERM waits for in-flight requests before cancelling them; with the engine's
# last tick and sends after it, the process exits within 10 s (what supervisors allow).
GRACE_SECONDS = 7


def serve(
    ctx: typer.Context,
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
    import signal

    import uvicorn

    from warroom import logs
    from warroom.app import create_app, warm_routes
    from warroom.auth import service as auth
    from warroom.cli.common import local_admin, local_runtime

    settings = settings_of(ctx)
    logs.setup(settings.log_level, log_format or settings.log_format)
    with errors_as_exit():
        runtime = local_runtime(settings, upgrade=True, sends=True)
        with local_admin(), runtime.db.transaction() as session:  # its entries' client: local
            first = auth.bootstrap_admin(session, now=runtime.clock.now())
    if first is not None:
        password, token = first
        typer.echo(first_start_banner(password, token, url=client_url(host, port)))
    if workers > 1:
        # Each worker imports the factory named here and builds its own runtime (see
        # app.worker_app): whether it runs an engine is in the name, not in os.environ.
        factory = "warroom.app:worker_app_without_engine" if no_engine else "warroom.app:worker_app"
        runtime.close()
        uvicorn.run(
            factory,
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_config=None,
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        return
    app = create_app(runtime)
    warm_routes(app)
    reload_on_sighup(runtime)
    if not no_engine:
        runtime.engine.start()
    # Start-up objects live as long as the process: keep them out of later GC passes, which
    # otherwise cost 50-100 ms pauses on a busy server.
    gc.collect()
    gc.freeze()
    # uvicorn restores the handlers it found and raises the signal again once it has stopped:
    # with the default ones, SIGTERM would kill the process (exit -15) before runtime.close(),
    # and Ctrl-C would end in a KeyboardInterrupt traceback.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    uvicorn.run(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=GRACE_SECONDS)
    runtime.close()  # finish queued intake work before the process ends


def client_url(host: str, port: int) -> str:
    """Return the URL a client on this machine uses to reach a server listening on `host`."""
    if host in ("0.0.0.0", "::", ""):  # every interface: loopback is one of them
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def first_start_banner(password: str, token: str, *, url: str, command: str | None = None) -> str:
    """Return what the first start on an empty database prints: the admin's secrets and what next.

    Every command in it runs as printed from the directory the server was started in:
    `command` is how that shell reaches warroom (`.venv/bin/warroom` after `make run`).
    """
    warroom = command or warroom_command()
    return (
        "\nwarroom: this is a new database, so an admin user was created.\n"
        f"  user: admin    password: {password}\n"
        f"  API token (shown only this once): {token}\n\n"
        f"Open {url} in a browser and sign in as admin with that password.\n\n"
        "Use the CLI against this server with:\n"
        f"  export WARROOM_URL={url}\n"
        f"  export WARROOM_TOKEN={token}\n"
        f"  {warroom} incident list\n"
        f"Lost the token? `{warroom} tokens create admin` makes another.\n"
        f"API explorer: {url}/docs\n"
    )


def reload_on_sighup(runtime: "Runtime") -> "threading.Thread":
    """Re-read warroom.yaml on SIGHUP; a bad file is logged and the last good one stays.

    The signal handler runs on the main thread, which is the server's event loop: it only
    wakes a reloading thread, so parsing the YAML never stalls requests. Signals that arrive
    while a reload runs are folded into one more reload, which reads the newest file.
    """
    import logging
    import queue
    import signal
    import threading

    from warroom.core.errors import ConfigError

    log = logging.getLogger("warroom")
    # A SimpleQueue, not an Event: its put() is safe inside a signal handler (an Event's lock
    # is not reentrant, and a second signal could arrive while the first handler holds it).
    wanted: queue.SimpleQueue[None] = queue.SimpleQueue()

    def reload_when_asked() -> None:
        from warroom.audit.context import client_address

        client_address.set("local")  # the audit log's "from where" of a SIGHUP reload
        while True:
            wanted.get()
            while not wanted.empty():  # signals sent meanwhile: one reload reads the newest
                wanted.get_nowait()
            try:
                runtime.reload_config()
            except ConfigError as exc:
                log.error("configuration not reloaded, keeping the last good one: %s", exc.message)
            except Exception:  # keep the thread alive for the next SIGHUP
                log.exception("configuration not reloaded")

    thread = threading.Thread(target=reload_when_asked, name="config-reload", daemon=True)
    thread.start()
    signal.signal(signal.SIGHUP, lambda _signum, _frame: wanted.put(None))
    return thread
