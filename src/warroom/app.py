"""Composition root: settings → database, configuration, runbook directory, Runtime, FastAPI app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from warroom.config import WarroomConfig, load_config
from warroom.core.clock import Clock, SystemClock
from warroom.migrations import migrate
from warroom.runbooks.directory import RunbookDirectory
from warroom.runtime import Runtime
from warroom.settings import Settings
from warroom.storage import files
from warroom.storage.db import Database

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("warroom")


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    config: WarroomConfig | None = None,
    upgrade: bool = True,
) -> Runtime:
    """Build the runtime: load config, open the database (upgrading it), prepare runbooks."""
    config_value = config if config is not None else load_config(settings.config_path())
    tightened = files.secure_dir(settings.data_dir)  # 0700: the database and uploads
    db = Database(settings.resolved_database_url())
    files.report(tightened + db.tightened)
    if upgrade:
        migrate.upgrade(db)
    runbooks = RunbookDirectory(Path(settings.runbooks_dir))
    for folder in (runbooks.templates, runbooks.active, runbooks.archive):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # readiness reports it; incidents still work
            log.error("cannot create %s: %s", folder, exc.strerror)
    return Runtime(
        settings=settings,
        db=db,
        clock=clock or SystemClock(),
        runbooks=runbooks,
        config_value=config_value,
    )


def create_app(runtime: Runtime) -> FastAPI:
    """Return the FastAPI application serving the API and pages for `runtime`."""
    from warroom.api.main import build_api
    from warroom.logs import redact_access_log
    from warroom.web import pages

    # Here, not only in `logs.setup`: whoever serves the app (tests, an ASGI server's own
    # logging), a calendar URL's token must not reach the access log.
    redact_access_log()
    app = build_api(runtime)
    pages.install(app)  # the pages and the live stream use the API's request dependencies
    return app


def warm_routes(app: FastAPI) -> None:
    """Prepare FastAPI's per-route state now rather than on each router's first request."""
    # FastAPI (0.16x) analyses the dependencies of an included router's routes lazily, on
    # the first request that walks that router: a few hundred milliseconds in all, which the
    # first requests after a start would wait for (and a live stream's first events with
    # them). A path that matches nothing walks every router once.
    scope = {"type": "http", "method": "GET", "path": "/-/warm-up/-", "root_path": ""}
    for route in app.router.routes:
        route.matches(dict(scope, headers=[], query_string=b""))


# `warroom serve --workers N` hands uvicorn an import string, and each worker process imports
# and calls the factory it names: nothing built in the parent can be passed along. So the one
# choice the parent makes, whether the workers run an engine, is the factory's name (two
# factories), and each worker builds its own Settings, once, from the environment it
# inherited (the supervisor restarts the workers on SIGHUP, which re-reads warroom.yaml).


def worker_app() -> FastAPI:
    """Build the app of a `warroom serve --workers N` worker that also runs an engine."""
    return _worker(engine=True)


def worker_app_without_engine() -> FastAPI:
    """Build the app of a `warroom serve --workers N --no-engine` worker (HTTP only)."""
    return _worker(engine=False)


def _worker(*, engine: bool) -> FastAPI:
    """Build the runtime and app in a worker process; start its engine if asked."""
    import gc

    from warroom import logs

    settings = Settings()  # this process's entry point: its one Settings object
    logs.setup(settings.log_level, settings.log_format)
    runtime = build_runtime(settings, upgrade=False)
    app = create_app(runtime)
    warm_routes(app)
    if engine:
        runtime.engine.start()  # one engine per worker: they share the work through the rows
    gc.collect()
    gc.freeze()
    return app
