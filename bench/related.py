"""How long listing an incident's related incidents takes, on SQLite and PostgreSQL.

In one process, on a scratch database: `--incidents` incidents detected over the last 90
days on 20 services (so about 1/20 share the measured incident's service, more than the
300-row candidate cap), each with a first alert event carrying alertname, service and env
labels, 5 % restricted. Measured: `RelatedFlows.for_reader` (the API's, the room's and the
CLI's call, postmortems included) for an admin and for a viewer with no grant, and the
first Slack message's lines (`RelatedFlows.announcement`, public incidents only).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

from rich.console import Console
from sqlalchemy import insert, select

from bench.backends import NAMES, run_on, scratch_runtime
from bench.common import REPO_ROOT, Stats, command_line, machine_info, markdown_table, write_section
from bench.incidents import DEFAULT_POSTGRES_URL
from warroom.incidents.actor import Access
from warroom.incidents.models import Incident, TimelineEvent
from warroom.runtime import Runtime

SERVICES, ALERTNAMES = 20, 40
WORDS = [
    "latency",
    "errors",
    "saturated",
    "disk",
    "memory",
    "queue",
    "backlog",
    "timeout",
    "pods",
    "nodes",
    "cpu",
    "gateway",
]


@dataclass
class Result:
    """One backend's figures."""

    name: str
    version: str = ""
    skipped: str | None = None
    admin: Stats | None = None
    viewer: Stats | None = None
    announce: Stats | None = None
    listed: int = 0


def seed(runtime: Runtime, count: int) -> list[int]:
    """Insert `count` incidents with their first alert event; return the newest numbers."""
    now = runtime.clock.now()
    step = timedelta(days=90) / count
    incidents, events = [], []
    for n in range(1, count + 1):
        at = now - timedelta(days=90) + step * n
        service = f"service-{n % SERVICES}"
        alertname = f"Alert{n % ALERTNAMES}"
        words = " ".join(WORDS[(n + k) % len(WORDS)] for k in range(3))
        incidents.append(
            {
                "id": n,
                "number": n,
                "slug": f"inc-{n}",
                "title": f"{alertname} {words} on {service}",
                "summary": "",
                "status": "resolved",
                "severity": "SEV-3",
                "peak_severity": "SEV-3",
                "paging_held": False,
                "incident_type": "default",
                "service": service,
                "visibility": "restricted" if n % 20 == 0 else "public",
                "links": {},
                "source": "alertmanager",
                "detected_at": at,
                "updated_at": at,
            }
        )
        labels = {"alertname": alertname, "service": service, "env": f"env-{n % 3}"}
        events.append(
            {
                "incident_id": n,
                "at": at,
                "kind": "alert",
                "source": "alertmanager",
                "text": "alert",
                "data": {"labels": labels},
                "key_event": False,
            }
        )
    with runtime.db.transaction() as session:
        for start in range(0, count, 5_000):
            session.execute(insert(Incident), incidents[start : start + 5_000])
            session.execute(insert(TimelineEvent), events[start : start + 5_000])
    return [n for n in range(count, count - 250, -1) if n % 20 != 0]  # public: both see them


def measure(result: Result, database_url: str | None, args: argparse.Namespace) -> None:
    """Fill `result` on a fresh database."""
    with scratch_runtime(database_url) as runtime:
        numbers = seed(runtime, args.incidents)
        flows = runtime.related
        admin, viewer = Access("ada", "admin"), Access("vic", "viewer")
        for name, access in (("admin", admin), ("viewer", viewer)):
            timings = []
            for number in numbers[: args.repetitions]:
                began = time.perf_counter()
                found = flows.for_reader(number, access)
                timings.append(time.perf_counter() - began)
                result.listed = max(result.listed, len(found.items))
            setattr(result, name, Stats.of(timings))
        timings = []
        with runtime.db.session() as session:
            for number in numbers[: args.repetitions]:
                row = session.scalars(select(Incident).where(Incident.number == number)).one()
                if row.visibility != "public":
                    continue
                began = time.perf_counter()
                flows.announcement(session, row)
                timings.append(time.perf_counter() - began)
        result.announce = Stats.of(timings)


def render(results: list[Result], args: argparse.Namespace, argv: list[str], took: float) -> str:
    """Return the markdown section for docs/benchmarks.md."""
    machine = "; ".join(f"{key}: {value}" for key, value in machine_info().items())
    headers = ["Backend", "Incidents", "Admin p50 (ms)", "p99 (ms)", "Viewer p50 (ms)"]
    headers += ["p99 (ms)", "Slack lines p50 (ms)", "p99 (ms)"]
    rows = []
    for r in results:
        if r.admin is None or r.viewer is None or r.announce is None:
            continue
        rows.append(
            [
                f"{r.name} {r.version}",
                f"{args.incidents:,}",
                f"{r.admin.p50:.2f}",
                f"{r.admin.p99:.2f}",
                f"{r.viewer.p50:.2f}",
                f"{r.viewer.p99:.2f}",
                f"{r.announce.p50:.2f}",
                f"{r.announce.p99:.2f}",
            ]
        )
    lines = [
        "## Related incidents (latest run)",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Command: `{command_line('bench.related', argv)}`",
        f"- Machine: {machine}",
        f"- Total run time: {took:.0f} s; 1-minute load average at the end: "
        f"{os.getloadavg()[0]:.2f}",
        "",
        f"One process, a scratch database per backend, {args.incidents:,} incidents detected "
        f"over 90 days on {SERVICES} services, each with its first alert event, 5 % restricted. "
        f"Each figure is one list for one of the {args.repetitions} newest incidents: "
        "`RelatedFlows.for_reader` (what `GET /api/v1/incidents/{ref}/related`, the room and "
        "`warroom incident show` call; up to 300 candidates read, visibility in SQL, "
        "postmortems looked up) for an admin and for a viewer with no grant, and the first "
        "Slack message's lines (public incidents only) inside an open session. No target is "
        "set by the issue; this shows the bound holds.",
        "",
        markdown_table(headers, rows, text_columns=1),
    ]
    for r in results:
        if r.skipped:
            lines += ["", f"- {r.name}: skipped ({r.skipped})."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the related-incidents benchmark and record it in docs/benchmarks.md."""
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.related", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A small smoke run.")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="Leave docs/benchmarks.md alone.")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("WARROOM_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args(args_list)
    if args.quick:
        args.incidents, args.repetitions = 1_000, 20
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
        write_section(REPO_ROOT / "docs" / "benchmarks.md", "related", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
