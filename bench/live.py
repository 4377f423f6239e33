"""Live-update benchmark: how long a timeline event takes to reach 200 open event streams.

A real server (`warroom serve` on a loopback port, a process of its own) with `--streams`
viewers holding `GET /events` open; a responder adds notes through the API, one at a time;
each stream's arrival time is taken from the moment the note's request was sent. Run with
`make bench` or `.venv/bin/python -m bench.live [--quick] [--backend ...]`.
Target (issue 14): p99 < 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console

from bench.backends import NAMES, run_on
from bench.common import (
    REPO_ROOT,
    Stats,
    command_line,
    machine_info,
    markdown_table,
    write_section,
)
from bench.common import warroom_server as serve
from bench.incidents import DEFAULT_POSTGRES_URL, bench_config, server_folder
from warroom.app import build_runtime
from warroom.auth import service as auth
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor

DOCS_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
TARGET_P99_MS = 250.0


@dataclass(frozen=True)
class Options:
    """What to run and how big."""

    streams: int
    notes: int
    backends: tuple[str, ...]
    write: bool
    postgres_url: str


@dataclass
class BackendResult:
    """Arrival times on one database."""

    name: str
    version: str = ""
    arrivals: Stats | None = None
    missing: int = 0
    skipped: str | None = None
    notes: list[float] = field(default_factory=list)


async def listen(
    client: httpx.AsyncClient,
    wanted: int,
    ready: asyncio.Event,
    opened: list[int],
    arrived: dict[int, list[float]],
) -> None:
    """Hold one stream open; note when each event id arrives."""
    async with client.stream("GET", "/events") as response:
        response.raise_for_status()
        opened.append(1)
        if len(opened) == wanted:
            ready.set()
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                arrived.setdefault(int(line[3:].strip()), []).append(time.perf_counter())


async def drive(
    base_url: str, viewer: str, writer: str, ref: str, options: Options
) -> tuple[list[float], int]:
    """Open the streams, add the notes, return each (stream, note) latency in seconds."""
    limits = httpx.Limits(max_connections=options.streams + 10)
    arrived: dict[int, list[float]] = {}
    opened: list[int] = []
    ready = asyncio.Event()
    async with (
        httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {viewer}"},
            limits=limits,
            timeout=httpx.Timeout(10, read=None),
        ) as streams,
        httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {writer}"}, timeout=10
        ) as api,
    ):
        tasks = [
            asyncio.create_task(listen(streams, options.streams, ready, opened, arrived))
            for _ in range(options.streams)
        ]
        await asyncio.wait_for(ready.wait(), timeout=60)
        await asyncio.sleep(0.5)
        sent: dict[int, float] = {}
        for index in range(options.notes):
            started = time.perf_counter()
            answer = await api.post(f"/api/v1/incidents/{ref}/timeline", json={"text": f"n{index}"})
            answer.raise_for_status()
            sent[int(answer.json()["id"])] = started
            await asyncio.sleep(0.3)  # one note at a time: what one user's note costs
        await asyncio.sleep(2)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies: list[float] = []
    missing = 0
    for event_id, started in sent.items():
        times = arrived.get(event_id, [])
        missing += options.streams - len(times)
        latencies.extend(at - started for at in times)
    return latencies, missing


def measure(
    result: BackendResult, database_url: str | None, options: Options, console: Console
) -> None:
    """Serve a fresh database with `warroom serve` and time the fan-out."""
    # The server runs in a process of its own, as it does for users: the 200 streams' client
    # work (in this process) must not take the server's interpreter lock.
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        root = Path(tmp)
        env, settings = server_folder(root, database_url)
        runtime = build_runtime(settings, config=WarroomConfig.model_validate(bench_config()))
        try:
            now = runtime.clock.now()
            tokens = {}
            with runtime.db.transaction() as session:
                for name, role in (("bench-viewer", "viewer"), ("bench-writer", "responder")):
                    user = auth.create_user(
                        session, name=name, role=role, now=now, service_account=True
                    )
                    tokens[role] = auth.create_token(session, user=user, name="bench", now=now)
            ref = runtime.flows.declare(
                actor=Actor(name="bench-writer", source="api", role="responder"),
                title="Fan-out",
            ).ref
        finally:
            runtime.close()
        with serve(env, root, root / "server.log") as base_url:
            console.print(f"  {options.streams} streams, {options.notes} notes …")
            latencies, missing = asyncio.run(
                drive(base_url, tokens["viewer"], tokens["responder"], ref, options)
            )
            result.arrivals = Stats.of(latencies)
            result.missing = missing


def run_backend(backend: str, options: Options, console: Console) -> BackendResult:
    """Measure one backend, or say why it was skipped."""
    result = BackendResult(name=NAMES[backend])
    ran = run_on(
        backend, options.postgres_url, console, lambda url: measure(result, url, options, console)
    )
    result.version, result.skipped = ran.version, ran.skipped
    return result


HEADERS = (
    "Backend",
    "Streams",
    "Deliveries",
    "Missing",
    "p50 (ms)",
    "p99 (ms)",
    "max (ms)",
    "p99 < 250 ms",
)


def rows_of(results: list[BackendResult], options: Options) -> list[list[str]]:
    """Return the table's rows."""
    rows = []
    for result in results:
        if result.arrivals is None:
            continue
        stats = result.arrivals
        met = "yes" if stats.p99 < TARGET_P99_MS and not result.missing else "**no**"
        rows.append(
            [
                result.name,
                str(options.streams),
                f"{stats.count:,}",
                str(result.missing),
                f"{stats.p50:.1f}",
                f"{stats.p99:.1f}",
                f"{stats.max:.1f}",
                met,
            ]
        )
    return rows


def render_section(
    results: list[BackendResult], options: Options, command: str, took: float
) -> str:
    """Return the markdown for docs/benchmarks.md."""
    machine = "; ".join(f"{key}: {value}" for key, value in machine_info().items())
    lines = [
        "## Live updates (latest run)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Command: `{command}`",
        f"- Machine: {machine}",
        f"- Total run time: {took:.0f} s; 1-minute load average at the end: "
        f"{os.getloadavg()[0]:.2f}",
        "",
        f"One warroom server (`warroom serve`, one process) on a loopback port; {options.streams}"
        " event streams (`GET /events`, a viewer's token) held open by the benchmark's"
        f" process; a responder adds {options.notes} notes through the API one after another."
        " Each delivery is timed"
        " from the moment the note's request was sent to the moment the stream read the"
        " event's id: the write, the commit, the bus (in-process on SQLite, LISTEN/NOTIFY on"
        " PostgreSQL) and the fan-out. Target (issue 14): p99 < 250 ms.",
        "",
        markdown_table(HEADERS, rows_of(results, options), text_columns=1),
    ]
    for result in results:
        if result.skipped:
            lines += ["", f"- {result.name}: skipped ({result.skipped})."]
    return "\n".join(lines) + "\n"


def parse_options(argv: list[str]) -> Options:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers for a smoke run")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--streams", type=int, help="open streams (default 200)")
    parser.add_argument("--notes", type=int, help="notes added (default 30)")
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    return Options(
        streams=args.streams or (20 if args.quick else 200),
        notes=args.notes or (3 if args.quick else 30),
        backends=backends,
        write=not args.no_write and not args.quick,
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
    console.print(markdown_table(HEADERS, rows_of(results, options), text_columns=1))
    console.print(f"total run time {took:.0f} s")
    if options.write:
        section = render_section(results, options, command_line("bench.live", argv), took)
        write_section(DOCS_PAGE, "live", section)
        console.print(f"wrote {DOCS_PAGE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
