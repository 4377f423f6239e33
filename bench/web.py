"""Web benchmark: server time of the war board, the incident list and the incident room.

In-process through ASGI (as uvicorn calls the app), with a session cookie, against the
100,000 incidents of `bench.incidents` (5 % restricted) plus one incident with 5,000
timeline events. Run with `make bench` or `.venv/bin/python -m bench.web [--quick]
[--backend ...]`. Target (issue 14): war board and incident room p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta

from rich.console import Console
from rich.table import Table

from bench.access import Fixture, asgi_get, prepare
from bench.backends import NAMES, run_on, scratch_runtime
from bench.common import REPO_ROOT, Stats, command_line, machine_info, markdown_table, write_section
from bench.incidents import DEFAULT_POSTGRES_URL
from warroom.app import create_app
from warroom.auth.sessions import COOKIE
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident, TimelineEvent
from warroom.web.templating import STATIC

DOCS_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
TARGET_P99_MS = 50.0
LONG_TIMELINE = 5_000
ASKERS = ("admin", "viewer")


@dataclass(frozen=True)
class Options:
    """What to run and how big."""

    stored: int
    events: int
    requests: int
    warmup: int
    backends: tuple[str, ...]
    write: bool
    postgres_url: str


@dataclass
class Row:
    """One page asked for by one user: wall-clock and CPU time per request."""

    page: str
    who: str
    wall: Stats
    cpu: Stats


@dataclass
class BackendResult:
    """Everything measured on one database."""

    name: str
    version: str = ""
    rows: list[Row] = field(default_factory=list)
    skipped: str | None = None


def add_long_incident(fixture: Fixture, events: int) -> tuple[str, int]:
    """Declare a public incident and give it `events` timeline notes; return its ref and
    the id of its fifth-newest event (a live update asks for what came after one it has)."""
    runtime = fixture.runtime
    actor = Actor(name="bench", source="api")
    detail = runtime.flows.declare(actor=actor, title="A long incident", severity="SEV-2")
    start = runtime.clock.now()
    with runtime.db.transaction() as session:
        incident_id = session.query(Incident.id).filter(Incident.number == detail.number).scalar()
        session.add_all(
            TimelineEvent(
                incident_id=incident_id,
                at=start + timedelta(seconds=index),
                kind="note",
                actor="bench",
                source="api",
                text=f"Note {index}: error rate {index % 40} % on payments-gw-{index % 7}",
                data={},
                key_event=index % 50 == 0,
            )
            for index in range(events)
        )
        session.flush()
        ids = session.query(TimelineEvent.id).filter(TimelineEvent.incident_id == incident_id)
        fifth = ids.order_by(TimelineEvent.id.desc()).offset(4).limit(1).scalar()
    return detail.ref, int(fifth or 0)


async def time_page(app: object, path: str, cookie: str, options: Options) -> tuple[Stats, Stats]:
    """Time GET `path` as the cookie's user."""
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())]
    wall, cpu = [], []
    for attempt in range(options.warmup + options.requests):
        started, used = time.perf_counter(), time.process_time()
        status = await asgi_get(app, path, headers)  # type: ignore[arg-type]
        used = time.process_time() - used
        elapsed = time.perf_counter() - started
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        if attempt >= options.warmup:
            wall.append(elapsed)
            cpu.append(used)
    return Stats.of(wall), Stats.of(cpu)


def measure(
    result: BackendResult, database_url: str | None, options: Options, console: Console
) -> None:
    """Seed a fresh database, then time each page for each asker."""
    with scratch_runtime(database_url) as runtime:
        try:
            fixture = prepare(runtime, options.stored, console)
            long_ref, recent = add_long_incident(fixture, options.events)
            pages = {
                "war board": "/",
                "incident list (open)": "/incidents",
                f"incident room, {options.events:,} events": f"/incidents/{long_ref}",
                "timeline fragment (live update)": f"/incidents/{long_ref}/timeline?after={recent}",
            }
            app = create_app(runtime)
            gc.collect()
            gc.freeze()
            for page, path in pages.items():
                for who in ASKERS:
                    console.print(f"  {page}, {who} …")
                    wall, cpu = asyncio.run(time_page(app, path, fixture.cookies[who], options))
                    result.rows.append(Row(page, who, wall, cpu))
        finally:
            gc.unfreeze()


def run_backend(backend: str, options: Options, console: Console) -> BackendResult:
    """Measure one backend, or say why it was skipped."""
    result = BackendResult(name=NAMES[backend])
    ran = run_on(
        backend, options.postgres_url, console, lambda url: measure(result, url, options, console)
    )
    result.version, result.skipped = ran.version, ran.skipped
    return result


def rows_of(results: list[BackendResult]) -> list[list[str]]:
    """Return the table's rows."""
    rows = []
    for result in results:
        for row in result.rows:
            checked = row.page.startswith(("war board", "incident room"))
            verdict = ("yes" if row.wall.p99 < TARGET_P99_MS else "**no**") if checked else ""
            rows.append(
                [
                    result.name,
                    row.page,
                    row.who,
                    f"{row.wall.p50:.1f} / {row.wall.p99:.1f}",
                    f"{row.cpu.p50:.1f} / {row.cpu.p99:.1f}",
                    verdict,
                ]
            )
    return rows


HEADERS = ("Backend", "Page", "Who asks", "wall p50 / p99 (ms)", "CPU p50 / p99 (ms)", "< 50 ms")


def render_section(
    results: list[BackendResult], options: Options, command: str, took: float
) -> str:
    """Return the markdown for docs/benchmarks.md."""
    info = machine_info()
    machine = "; ".join(f"{key}: {value}" for key, value in info.items())
    sizes = {name: (STATIC / name).stat().st_size for name in ("app.css", "app.js")}
    lines = [
        "## Web pages (latest run)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Command: `{command}`",
        f"- Machine: {machine}",
        f"- Total run time: {took:.0f} s; 1-minute load average at the end: "
        f"{os.getloadavg()[0]:.2f}",
        "",
        f"The database is `bench.incidents`' {options.stored:,} incidents (5 % restricted,"
        f" with their participants) plus one public incident with {options.events:,} timeline"
        " events. Each page is asked for through warroom's ASGI app as uvicorn calls it, with a"
        " session cookie, one request at a time: "
        f"{options.warmup} untimed then {options.requests} timed per row, as the admin and as a"
        " viewer in no team (whose lists go through the visibility rule). The time is the"
        " server's: authentication, the queries, rendering the template. Target (issue 14):"
        " war board and incident room p99 < 50 ms.",
        "",
        markdown_table(HEADERS, rows_of(results), text_columns=3),
        "",
        f"Static files: app.css {sizes['app.css']:,} bytes, app.js {sizes['app.js']:,} bytes"
        " uncompressed (target: each < 30 KB). A page's first load is three requests: the page,"
        " app.css and app.js (both cached for a year under a content hash); the event stream"
        " opens after the load.",
    ]
    for result in results:
        if result.skipped:
            lines += ["", f"- {result.name}: skipped ({result.skipped})."]
    return "\n".join(lines) + "\n"


def print_tables(console: Console, results: list[BackendResult]) -> None:
    """Print the results as a table."""
    table = Table(title="Web pages")
    for header in HEADERS:
        table.add_column(header)
    for row in rows_of(results):
        table.add_row(*row)
    console.print(table)


def parse_options(argv: list[str]) -> Options:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers for a smoke run")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--stored", type=int, help="incidents to seed (default 100000)")
    parser.add_argument("--requests", type=int, help="timed requests per row (default 200)")
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    args = parser.parse_args(argv)
    quick = args.quick
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    return Options(
        stored=args.stored or (2_000 if quick else 100_000),
        events=200 if quick else LONG_TIMELINE,
        requests=args.requests or (10 if quick else 200),
        warmup=2 if quick else 20,
        backends=backends,
        write=not args.no_write and not quick,
        postgres_url=os.environ.get("WARROOM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the results and refresh docs/benchmarks.md."""
    argv = sys.argv[1:] if argv is None else argv
    options = parse_options(argv)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    started = time.perf_counter()
    results = [run_backend(backend, options, console) for backend in options.backends]
    took = time.perf_counter() - started
    print_tables(console, results)
    console.print(f"total run time {took:.0f} s")
    if options.write:
        section = render_section(results, options, command_line("bench.web", argv), took)
        write_section(DOCS_PAGE, "web", section)
        console.print(f"wrote {DOCS_PAGE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
