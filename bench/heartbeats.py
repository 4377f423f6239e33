"""How long the engine's heartbeat check takes over 10,000 heartbeats, on SQLite and PostgreSQL.

In one process, on a scratch database: warroom.yaml holds 10,000 heartbeats (1m interval, 30s
grace) and every one has pinged. The measured call is the engine module itself
(`HeartbeatChecks.update`, as each engine round runs it): one round with none due — the
common case — and rounds in which some fall silent and open their incidents through the normal
path (template, first IC, paging rows, runbook file). Pings over the flow are timed too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from rich.console import Console
from sqlalchemy import update

from bench.backends import NAMES, run_on, scratch_runtime
from bench.common import REPO_ROOT, Stats, command_line, machine_info, markdown_table, write_section
from bench.incidents import DEFAULT_POSTGRES_URL, bench_config
from warroom.config import WarroomConfig
from warroom.detection.jobs import HeartbeatChecks
from warroom.detection.models import Heartbeat
from warroom.runtime import Runtime

TARGET_MS = 100.0
INTERVAL, GRACE = timedelta(minutes=1), timedelta(seconds=30)
# Heartbeats spread over this many services: each round's silent ones are on different
# services, so each opens an incident of its own (no alert storm bundles them).
SERVICES = 100


@dataclass
class Result:
    """One backend's figures."""

    name: str
    version: str = ""
    skipped: str | None = None
    idle: Stats | None = None  # a round over N heartbeats, none due
    opening: Stats | None = None  # a round in which `silent` of them fall silent
    sync: float = 0.0  # seconds: the first sync of N rows
    pings: Stats | None = None  # one ping each (its own transaction)
    extra: dict[str, Any] = field(default_factory=dict)


def config_of(count: int) -> WarroomConfig:
    """Return the bench's warroom.yaml with `count` heartbeats on one service."""
    document = bench_config()
    document["services"] = [{"id": f"service-{n}"} for n in range(SERVICES)]
    document["heartbeats"] = [
        {"id": f"beat-{n}", "service": f"service-{n % SERVICES}", "interval": "1m", "grace": "30s"}
        for n in range(count)
    ]
    return WarroomConfig.model_validate(document)


def module_of(runtime: Runtime) -> HeartbeatChecks:
    """Return the runtime's own heartbeat module, as its engine runs it."""
    return next(m for m in runtime.engine.modules if isinstance(m, HeartbeatChecks))


def measure(result: Result, database_url: str | None, args: argparse.Namespace) -> None:
    """Fill `result` on a fresh database."""
    with scratch_runtime(database_url) as runtime:
        runtime.config_value = config_of(args.heartbeats)
        module = module_of(runtime)
        start = runtime.clock.now()
        began = time.perf_counter()
        module.update(start)  # the first round brings 10,000 rows in step with the file
        result.sync = time.perf_counter() - began

        timings = []
        for n in range(args.pings):
            began = time.perf_counter()
            runtime.intake.ping(f"beat-{n}")
            timings.append(time.perf_counter() - began)
        result.pings = Stats.of(timings)
        # Every heartbeat has pinged; the first `silent` per round fall due one round apart.
        with runtime.db.transaction() as session:
            session.execute(
                update(Heartbeat).values(
                    state="up",
                    last_seen_at=start,
                    due_at=start + INTERVAL + GRACE + timedelta(days=1),
                    pings=1,
                )
            )
            for round_ in range(args.rounds):
                ids = [f"beat-{round_ * args.silent + k}" for k in range(args.silent)]
                session.execute(
                    update(Heartbeat)
                    .where(Heartbeat.id.in_(ids))
                    .values(due_at=start + INTERVAL + GRACE + timedelta(seconds=round_))
                )

        timings = []
        for repetition in range(args.repetitions):  # none due: the common round
            now = start + timedelta(seconds=30) + timedelta(milliseconds=repetition)
            began = time.perf_counter()
            module.update(now)
            timings.append(time.perf_counter() - began)
        result.idle = Stats.of(timings)

        timings = []
        for round_ in range(args.rounds):
            now = start + INTERVAL + GRACE + timedelta(seconds=round_, milliseconds=500)
            began = time.perf_counter()
            module.update(now)
            timings.append(time.perf_counter() - began)
        result.opening = Stats.of(timings)
        with runtime.db.session() as session:
            down = session.query(Heartbeat).filter(Heartbeat.state == "down").count()
        expected = args.rounds * args.silent
        if down != expected:
            raise RuntimeError(f"{down} heartbeats down; expected {expected}")


def render(results: list[Result], args: argparse.Namespace, argv: list[str], took: float) -> str:
    """Return the markdown section for docs/benchmarks.md."""
    machine = "; ".join(f"{key}: {value}" for key, value in machine_info().items())
    headers = [
        "Backend",
        "Heartbeats",
        "Round, none due: p50 (ms)",
        "p99 (ms)",
        f"< {TARGET_MS:.0f} ms",
        f"Round opening {args.silent}: p50 (ms)",
        "p99 (ms)",
        "Ping p50 (ms)",
        "First sync (s)",
    ]
    rows = []
    for result in results:
        if result.idle is None or result.opening is None or result.pings is None:
            continue
        met = "yes" if result.idle.p99 < TARGET_MS else "**no**"
        rows.append(
            [
                f"{result.name} {result.version}",
                f"{args.heartbeats:,}",
                f"{result.idle.p50:.2f}",
                f"{result.idle.p99:.2f}",
                met,
                f"{result.opening.p50:.1f}",
                f"{result.opening.p99:.1f}",
                f"{result.pings.p50:.2f}",
                f"{result.sync:.2f}",
            ]
        )
    lines = [
        "## Heartbeats (latest run)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Command: `{command_line('bench.heartbeats', argv)}`",
        f"- Machine: {machine}",
        f"- Total run time: {took:.0f} s; 1-minute load average at the end: "
        f"{os.getloadavg()[0]:.2f}",
        "",
        f"One process, a scratch database per backend, {args.heartbeats:,} heartbeats in "
        f"warroom.yaml on {SERVICES} services (1m interval, 30s grace), every one pinged. "
        "Each figure is one call of the engine's heartbeat module "
        "(`HeartbeatChecks.update`, what every engine round runs): "
        f"{args.repetitions} rounds with none due (the common case: one indexed query "
        "for the silent ones, one for the recovered, one for the next due time), and "
        f"{args.rounds} rounds in each of which {args.silent} fall silent and open their "
        "incidents through the normal path (runbook template and checklist, first IC, "
        "timeline, escalation row, runbook file). Target (issue 19): 10,000 heartbeats checked "
        f"in one tick in under {TARGET_MS:.0f} ms. A ping is `POST "
        "/api/v1/intake/heartbeat/{id}`'s flow without HTTP (one transaction, "
        f"{args.pings:,} pings); the first sync inserts the {args.heartbeats:,} rows once, "
        "after a start or a reload that changes the heartbeats.",
        "",
        markdown_table(headers, rows, text_columns=1),
    ]
    for result in results:
        if result.skipped:
            lines += ["", f"- {result.name}: skipped ({result.skipped})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the heartbeat benchmark and record it in docs/benchmarks.md."""
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.heartbeats", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A small smoke run.")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--heartbeats", type=int, default=10_000)
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--silent", type=int, default=10, help="Heartbeats silent per round.")
    parser.add_argument("--pings", type=int, default=1_000)
    parser.add_argument("--no-write", action="store_true", help="Leave docs/benchmarks.md alone.")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("WARROOM_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args(args_list)
    if args.quick:
        args.heartbeats, args.repetitions, args.rounds, args.pings = 500, 20, 3, 50
    console = Console()
    began = time.perf_counter()
    results = []
    for backend in args.backend or ("sqlite", "postgresql"):
        result = Result(name=NAMES[backend])
        ran = run_on(
            backend, args.postgres_url, console, lambda url, r=result: measure(r, url, args)
        )
        result.version, result.skipped = ran.version, ran.skipped
        results.append(result)
    section = render(results, args, args_list, time.perf_counter() - began)
    console.print(section)
    if not args.no_write and not args.quick:
        write_section(REPO_ROOT / "docs" / "benchmarks.md", "heartbeats", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
