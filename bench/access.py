"""Access benchmark: what authentication and the visibility rule add to a request.

In-process, against the 100,000 incidents of `bench.incidents` (5 % restricted, with their
participants), on SQLite and PostgreSQL. Run with `make bench` or
`.venv/bin/python -m bench.access [--quick] [--backend ...]`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from rich.console import Console
from rich.table import Table
from sqlalchemy import select, text, union

from bench.common import REPO_ROOT, Stats, machine_info, markdown_table
from bench.incidents import (
    ADMIN,
    DEFAULT_POSTGRES_URL,
    TEAM_MEMBER,
    TEMPLATES,
    VIEWER,
    bench_config,
    make_users,
    run_and_record,
    seed,
)
from warroom.api.deps import Viewer, VisibleIncident, _authenticated, access_of
from warroom.app import build_runtime, create_app
from warroom.auth import sessions
from warroom.auth.service import Principal, get_user
from warroom.auth.sessions import COOKIE
from warroom.config import WarroomConfig
from warroom.core.errors import NotFound
from warroom.incidents.models import Incident, IncidentGrant, IncidentRole
from warroom.runtime import Runtime
from warroom.settings import Settings

DOCS_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
TARGET_ADDED_P99_MS = 1.0
WHO = {"admin": ADMIN, "security team": TEAM_MEMBER, "viewer": VIEWER}


@dataclass(frozen=True)
class Options:
    """What to run and how big."""

    stored: int
    requests: int
    warmup: int
    backends: tuple[str, ...]
    write: bool
    postgres_url: str


@dataclass(frozen=True)
class Case:
    """One request: who asks, authenticated how, for which incident, and the answer."""

    who: str
    auth: str  # token | cookie
    incident: str  # public | restricted, a participant | restricted, not one
    ref: str
    status: int


@dataclass(frozen=True)
class Timing:
    """A series of calls timed twice: by the clock, and by the CPU time of this process."""

    wall: Stats
    # Robust to other work on the machine (it counts no waiting), but blind to the time a
    # PostgreSQL server process spends on the query.
    cpu: Stats


@dataclass(frozen=True)
class Timed:
    """A measured case: the work itself, and the request with and without it."""

    case: Case
    work: Timing  # authentication + access + check_visible, called as the dependencies do
    bare: Timing  # the same route without the dependencies
    guarded: Timing  # the route with them

    def added(self, clock: str) -> tuple[float, float]:
        """Return what the dependencies add to the request at p50 and p99, in ms."""
        bare, guarded = getattr(self.bare, clock), getattr(self.guarded, clock)
        return guarded.p50 - bare.p50, guarded.p99 - bare.p99

    def worst_p99(self, clock: str) -> float:
        """Return the larger of the two measures of the p99 added, in ms."""
        return max(getattr(self.work, clock).p99, self.added(clock)[1])


@dataclass
class BackendResult:
    """Everything measured on one database backend."""

    name: str
    version: str = ""
    skipped: str | None = None
    stored: int = 0
    parts: dict[str, Timing] = field(default_factory=dict)
    cases: list[Timed] = field(default_factory=list)

    def worst_p99(self, clock: str) -> float:
        """Return the most any case adds at p99 by `clock` (wall or cpu), both ways measured."""
        return max((t.worst_p99(clock) for t in self.cases), default=float("nan"))


# --- set-up ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixture:
    """The seeded runtime, each asker's token and session cookie, and the incidents asked for."""

    runtime: Runtime
    tokens: dict[str, str]
    cookies: dict[str, str]
    refs: dict[str, str]


def prepare(runtime: Runtime, stored: int, console: Console) -> Fixture:
    """Seed the incidents, sign each asker in, and pick the incidents the cases ask for."""
    _, by_label = make_users(runtime)
    tokens = {who: by_label[label] for who, label in zip(WHO, by_label, strict=True)}
    seed(runtime.db, stored, console)
    if not runtime.db.is_sqlite:
        with runtime.db.write_engine.begin() as connection:
            connection.execute(text("ANALYZE incidents, incident_roles, incident_grants"))
    cookies = {}
    with runtime.db.transaction() as session:
        now = runtime.clock.now()
        for who, name in WHO.items():
            user = get_user(session, name)
            started = sessions.start_session(
                session,
                user=user,
                now=now,
                config=runtime.config().auth.sessions,
                client_address="127.0.0.1",
                user_agent="bench.access",
            )
            cookies[who] = started.secret
        newest = Incident.number.desc()
        public = session.scalar(
            select(Incident.number).where(Incident.visibility == "public").order_by(newest)
        )
        # Let in by hand: the last branch of the rule, so the whole of it is evaluated.
        granted = session.scalar(
            select(Incident.number)
            .join(IncidentGrant, IncidentGrant.incident_id == Incident.id)
            .where(IncidentGrant.person == VIEWER, IncidentGrant.kind == "grant")
        )
        hidden = session.scalar(
            select(Incident.number)
            .where(Incident.visibility == "restricted", Incident.id.not_in(_viewer_sees()))
            .order_by(newest)
        )
    if public is None or granted is None or hidden is None:
        raise RuntimeError("the seed has no public, granted or hidden incident to ask for")
    refs = {
        "public": f"INC-{public}",
        "restricted, a participant": f"INC-{granted}",
        "restricted, not one": f"INC-{hidden}",
    }
    return Fixture(runtime=runtime, tokens=tokens, cookies=cookies, refs=refs)


def _viewer_sees() -> Any:
    """Return the ids of restricted incidents the viewer takes part in (to avoid them)."""
    return union(
        select(IncidentGrant.incident_id).where(IncidentGrant.person == VIEWER),
        select(IncidentRole.incident_id).where(IncidentRole.person == VIEWER),
        select(Incident.id).where(Incident.created_by == VIEWER),
        select(Incident.id).where(Incident.commander == VIEWER),
    )


def cases(fixture: Fixture) -> list[Case]:
    """Return the requests measured: an admin, a viewer, token and cookie, each incident."""
    refs = fixture.refs
    chosen = [
        ("admin", "token", "public"),
        ("admin", "token", "restricted, a participant"),
        ("admin", "cookie", "restricted, a participant"),
        ("security team", "token", "restricted, a participant"),
        ("viewer", "token", "public"),
        ("viewer", "token", "restricted, a participant"),
        ("viewer", "token", "restricted, not one"),
        ("viewer", "cookie", "public"),
        ("viewer", "cookie", "restricted, a participant"),
        ("viewer", "cookie", "restricted, not one"),
    ]
    return [
        Case(who, auth, incident, refs[incident], 404 if incident.endswith("not one") else 200)
        for who, auth, incident in chosen
    ]


# --- the work, called directly ---------------------------------------------------------------


def principal_of(fixture: Fixture, case: Case) -> Principal:
    """Authenticate as the request's dependency does: the token's digest, or the session."""
    runtime = fixture.runtime
    if case.auth == "token":
        return _authenticated(runtime, fixture.tokens[case.who])
    return runtime.sign_ins.authenticate(secret=fixture.cookies[case.who]).principal


def guard(fixture: Fixture, case: Case) -> None:
    """Do what the dependencies of a per-incident route do: authenticate, then check_visible."""
    principal = principal_of(fixture, case)
    try:
        fixture.runtime.flows.check_visible(case.ref, access_of(principal, fixture.runtime))
    except NotFound:
        if case.status != 404:
            raise


def time_calls(call: Callable[[], object], options: Options) -> Timing:
    """Time `call` `options.requests` times after `options.warmup` untimed calls."""
    for _ in range(options.warmup):
        call()
    wall, cpu = [], []
    for _ in range(options.requests):
        started, used = time.perf_counter(), time.process_time()
        call()
        cpu.append(time.process_time() - used)
        wall.append(time.perf_counter() - started)
    return Timing(Stats.of(wall), Stats.of(cpu))


def time_parts(fixture: Fixture, options: Options) -> dict[str, Timing]:
    """Time each piece on its own, as the viewer: token, session, teams, each visibility check."""
    runtime = fixture.runtime
    viewer = principal_of(fixture, Case("viewer", "token", "public", "", 200))
    access = access_of(viewer, runtime)
    admin = access_of(principal_of(fixture, Case("admin", "token", "", "", 200)), runtime)
    refs = fixture.refs

    def visible(ref: str, who: Any) -> Callable[[], None]:
        def call() -> None:
            with suppress(NotFound):  # the hidden incident answers 404, as it should
                runtime.flows.check_visible(ref, who)

        return call

    return {
        "token: SHA-256 of the token, read token and user": time_calls(
            lambda: _authenticated(runtime, fixture.tokens["viewer"]), options
        ),
        "session cookie: SHA-256 of the id, read session and user": time_calls(
            lambda: runtime.sign_ins.authenticate(secret=fixture.cookies["viewer"]), options
        ),
        "teams of the user (warroom.yaml, in memory)": time_calls(
            lambda: access_of(viewer, runtime), options
        ),
        "check_visible, admin, restricted incident": time_calls(
            visible(refs["restricted, a participant"], admin), options
        ),
        "check_visible, viewer, public incident": time_calls(
            visible(refs["public"], access), options
        ),
        "check_visible, viewer, restricted, a participant": time_calls(
            visible(refs["restricted, a participant"], access), options
        ),
        "check_visible, viewer, restricted, not one (404)": time_calls(
            visible(refs["restricted, not one"], access), options
        ),
    }


# --- the same route with and without the dependencies ----------------------------------------


def bench_app(runtime: Runtime) -> FastAPI:
    """Return warroom's app with two routes added: one bare, one behind the real dependencies."""
    app = create_app(runtime)

    async def bare(ref: str) -> dict[str, str]:
        return {"ref": ref}

    async def guarded(ref: str, principal: Viewer) -> dict[str, str]:
        return {"ref": ref}

    # Both ahead of warroom's own routes; the guarded one carries what every router of
    # per-incident routes carries (api/deps.py): the Viewer principal and VisibleIncident.
    app.add_api_route("/bench/bare/{ref}", bare, methods=["GET"])
    app.add_api_route(
        "/bench/guarded/{ref}", guarded, methods=["GET"], dependencies=[VisibleIncident]
    )
    return app


async def asgi_get(app: FastAPI, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """Send one GET through the ASGI app, as uvicorn would; return the status."""
    path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


async def time_routes(
    app: FastAPI, fixture: Fixture, case: Case, options: Options
) -> tuple[Timing, Timing]:
    """Time the bare and the guarded route, alternating so both see the same machine."""
    if case.auth == "token":
        headers = [(b"authorization", f"Bearer {fixture.tokens[case.who]}".encode())]
    else:
        headers = [(b"cookie", f"{COOKIE}={fixture.cookies[case.who]}".encode())]
    paths = {"bare": f"/bench/bare/{case.ref}", "guarded": f"/bench/guarded/{case.ref}"}
    expected = {"bare": 200, "guarded": case.status}
    wall: dict[str, list[float]] = {"bare": [], "guarded": []}
    # The whole process: FastAPI runs the sync dependencies on its worker threads.
    cpu: dict[str, list[float]] = {"bare": [], "guarded": []}
    for attempt in range(options.warmup + options.requests):
        for name, path in paths.items():
            started, used = time.perf_counter(), time.process_time()
            status = await asgi_get(app, path, headers)
            used = time.process_time() - used
            elapsed = time.perf_counter() - started
            if status != expected[name]:
                raise RuntimeError(f"{case}: GET {path} answered {status}")
            if attempt >= options.warmup:
                wall[name].append(elapsed)
                cpu[name].append(used)
    return (
        Timing(Stats.of(wall["bare"]), Stats.of(cpu["bare"])),
        Timing(Stats.of(wall["guarded"]), Stats.of(cpu["guarded"])),
    )


# --- backends --------------------------------------------------------------------------------


def measure(
    result: BackendResult, database_url: str | None, options: Options, console: Console
) -> None:
    """Seed a fresh database and time the pieces, then the requests, case by case."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        root = Path(tmp)
        settings = Settings(
            data_dir=root / "data", runbooks_dir=root / "runbooks", database_url=database_url
        )
        (root / "runbooks").mkdir()
        os.symlink(TEMPLATES, root / "runbooks" / "templates")
        runtime = build_runtime(settings, config=WarroomConfig.model_validate(bench_config()))
        try:
            fixture = prepare(runtime, options.stored, console)
            result.stored = options.stored
            # As in bench.incidents: what is built so far is long-lived; keep it out of the
            # collector's full passes so they do not land in the timings.
            gc.collect()
            gc.freeze()
            console.print("  timing the pieces …")
            result.parts = time_parts(fixture, options)
            app = bench_app(runtime)
            for case in cases(fixture):
                console.print(f"  {case.who}, {case.auth}, {case.incident} …")
                work = time_calls(partial(guard, fixture, case), options)
                bare, guarded = asyncio.run(time_routes(app, fixture, case, options))
                result.cases.append(Timed(case=case, work=work, bare=bare, guarded=guarded))
        finally:
            gc.unfreeze()
            runtime.db.dispose()


# --- reporting -------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _pair(stats: Stats) -> str:
    return f"{_ms(stats.p50)} / {_ms(stats.p99)}"


def part_rows(results: list[BackendResult]) -> list[list[str]]:
    """Return the pieces table's rows."""
    return [
        [r.name, name, f"{t.wall.count:,}", _pair(t.wall), _pair(t.cpu)]
        for r in results
        for name, t in r.parts.items()
    ]


def _verdict(value: float) -> str:
    return "yes" if value < TARGET_ADDED_P99_MS else "**no**"


def case_rows(results: list[BackendResult]) -> list[list[str]]:
    """Return the requests table's rows."""
    rows = []
    for r in results:
        for t in r.cases:
            c = t.case
            added = {clock: t.added(clock) for clock in ("wall", "cpu")}
            rows.append(
                [
                    r.name,
                    c.who,
                    c.auth,
                    c.incident,
                    str(c.status),
                    _pair(t.work.wall),
                    _pair(t.work.cpu),
                    _pair(t.bare.wall),
                    _pair(t.guarded.wall),
                    " / ".join(_ms(v) for v in added["wall"]),
                    " / ".join(_ms(v) for v in added["cpu"]),
                    f"{_verdict(t.worst_p99('wall'))} / {_verdict(t.worst_p99('cpu'))}",
                ]
            )
    return rows


PART_HEADERS = (
    "Backend",
    "Piece (as the viewer)",
    "Calls",
    "wall p50 / p99 (ms)",
    "CPU p50 / p99 (ms)",
)
CASE_HEADERS = (
    "Backend",
    "Who asks",
    "Auth",
    "Incident",
    "Answer",
    "auth + visibility, wall p50 / p99 (ms)",
    "auth + visibility, CPU p50 / p99 (ms)",
    "bare route, wall p50 / p99 (ms)",
    "guarded route, wall p50 / p99 (ms)",
    "added, wall p50 / p99 (ms)",
    "added, CPU p50 / p99 (ms)",
    "< 1 ms p99, wall / CPU",
)


def print_tables(console: Console, results: list[BackendResult]) -> None:
    """Print the results as Rich tables."""
    for title, headers, rows, text_columns in (
        ("The pieces", PART_HEADERS, part_rows(results), 2),
        ("Per request", CASE_HEADERS, case_rows(results), 5),
    ):
        if not rows:
            continue
        table = Table(title=title)
        for index, header in enumerate(headers):
            table.add_column(header, justify="left" if index < text_columns else "right")
        for row in rows:
            table.add_row(*(cell.replace("**", "") for cell in row))
        console.print(table)
    for r in results:
        if r.skipped:
            console.print(f"[yellow]{r.name} skipped:[/] {r.skipped}")
        elif r.cases:
            console.print(
                f"{r.name}: at most {r.worst_p99('wall'):.2f} ms added at p99 by the clock,"
                f" {r.worst_p99('cpu'):.2f} ms of CPU (target < {TARGET_ADDED_P99_MS:.0f} ms)"
            )


def render_section(
    results: list[BackendResult], options: Options, command: str, seconds: float
) -> str:
    """Return the markdown section for docs/benchmarks.md."""
    machine = machine_info()
    for r in results:
        if r.name == "PostgreSQL":
            machine["PostgreSQL"] = r.version or "not measured"
    stored = max((r.stored for r in results), default=options.stored)
    lines = [
        "## Authentication and visibility per request (latest run)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        "- Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()),
        f"- Total run time: {seconds:.0f} s; 1-minute load average at the end:"
        f" {os.getloadavg()[0]:.2f} (other work on the machine adds noise to the p99s)",
        "",
        f"The database is `bench.incidents`' {stored:,} incidents (5 % restricted, with their"
        " roles, paged and granted people), on SQLite and PostgreSQL; the askers are its"
        " admin, a member of the `security` team and the viewer in no team who takes part in"
        " a few restricted incidents. Everything runs in one process, one call at a time, no"
        f" network: {options.warmup} untimed then {options.requests:,} timed calls per row."
        " Two ways of measuring the same cost:",
        "",
        "- **auth + visibility**: the code the dependencies of a per-incident route run,"
        " called directly — authenticate (`api/deps._authenticated` for a token: SHA-256 of"
        " it, one read of token and user; `SignIns.authenticate` for a session cookie: SHA-256"
        " of the id, one read of session and user), the caller's teams (`access_of`), then"
        " `IncidentFlows.check_visible` (read the incident by number, with the visibility"
        " rule as a column of the same query for a caller who is no admin)."
        " The last-use stamps are written at most every 5 minutes (token) or every minute"
        " (session), as in production, so a few calls include that write.",
        "- **bare vs guarded route**: two routes added to warroom's own app (`create_app`,"
        " its middleware and error handlers), called through ASGI as uvicorn calls them:"
        " `GET /bench/bare/{ref}` has no dependencies; `GET /bench/guarded/{ref}` has those"
        " of every per-incident route (`Viewer` and `VisibleIncident`: authentication and"
        " the visibility check in one hop to FastAPI's thread pool). The two are called"
        " alternately; *added* is guarded minus bare, at the p50 and at the p99 — the auth +"
        " visibility work plus FastAPI's dependency handling and the thread hop.",
        "",
        "Each call is timed twice: by the clock (wall), which is what a client waits for,"
        " and by the CPU time of this process, which other work on the machine does not"
        " inflate (it counts no waiting for a core) but which leaves out what a PostgreSQL"
        " server process spends on the query — on SQLite it is the whole of the work. On a"
        " shared machine the wall-clock p99 mostly measures the machine: compare it with the"
        " load average above.",
        "",
        f"Target (issue 13): less than {TARGET_ADDED_P99_MS:.0f} ms added at p99, judged on"
        " the larger of the two ways for each clock. The list's share of the rule (a"
        " condition in the list query) is measured by `bench.incidents` (the incident list"
        " by who asks). See docs/adr/010-access-control-cost.md for what was changed to get"
        " here and what limits it.",
        "",
        "### The pieces",
        "",
        _table(PART_HEADERS, part_rows(results), 2),
        "",
        "### Per request",
        "",
        _table(CASE_HEADERS, case_rows(results), 5),
        "",
    ]
    for r in results:
        if r.skipped:
            lines.append(f"- {r.name}: skipped — {r.skipped}.")
        elif r.cases:
            wall, cpu = r.worst_p99("wall"), r.worst_p99("cpu")
            lines.append(
                f"- {r.name}: at most {wall:.2f} ms added at p99 by the clock"
                f" ({_met(wall)}), {cpu:.2f} ms of CPU time ({_met(cpu)});"
                f" target < {TARGET_ADDED_P99_MS:.0f} ms."
            )
    return "\n".join(lines)


def _met(value: float) -> str:
    return "met" if value < TARGET_ADDED_P99_MS else "**not met**"


def _table(headers: tuple[str, ...], rows: list[list[str]], text_columns: int) -> str:
    """Render a markdown table, or say that nothing was measured."""
    if not rows:
        return "_Not measured in this run._"
    return markdown_table(headers, rows, text_columns=text_columns)


# --- entry point -----------------------------------------------------------------------------


def parse_options(argv: list[str]) -> Options:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.access", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers for a smoke run")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--stored", type=int, help="incidents to seed (default 100000)")
    parser.add_argument("--requests", type=int, help="timed calls per row (default 2000)")
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    args = parser.parse_args(argv)
    quick = args.quick
    options = Options(
        stored=args.stored or (2_000 if quick else 100_000),
        requests=args.requests or (100 if quick else 2_000),
        warmup=10 if quick else 100,
        backends=("sqlite", "postgresql") if args.backend == "all" else (args.backend,),
        write=not args.no_write,
        postgres_url=os.environ.get("WARROOM_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    if min(options.stored, options.requests) < 1:
        parser.error("--stored and --requests must be at least 1")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the results and refresh docs/benchmarks.md."""
    argv = sys.argv[1:] if argv is None else argv
    return run_and_record(
        "access",
        argv,
        parse_options(argv),
        width=180,
        make=lambda name: BackendResult(name=name),
        measure=measure,
        print_tables=print_tables,
        render_section=render_section,
    )


if __name__ == "__main__":
    raise SystemExit(main())
