"""Search benchmark: full-text search over 100,000 incidents with their timelines.

In-process, on SQLite and PostgreSQL: `bench.incidents`' 100,000 incidents (5 % restricted,
with their participants), each given a timeline with notes, and alerts, status updates,
postmortems and action items where real incidents have them; the index is written by its
triggers as the rows go in. Then a mix of queries is timed for an admin, a member of the
security team and a viewer outside it (who may not see the restricted 5 %). Run with
`make bench` or `.venv/bin/python -m bench.search [--quick] [--backend ...]`.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Table as SqlTable
from sqlalchemy import func, insert, select, text

from bench.common import (
    REPO_ROOT,
    Stats,
    machine_info,
    markdown_table,
    search_triggers,
)
from bench.incidents import (
    ADMIN,
    DEFAULT_POSTGRES_URL,
    SERVICES,
    TEAM_MEMBER,
    TEMPLATES,
    VIEWER,
    bench_config,
    make_users,
    run_and_record,
    seed,
)
from warroom.app import build_runtime
from warroom.config import WarroomConfig
from warroom.detection.models import Alert
from warroom.incidents.actor import Access, Actor
from warroom.incidents.models import Incident, TimelineEvent
from warroom.postmortem.models import ActionItem, Postmortem
from warroom.runtime import Runtime
from warroom.search import flows
from warroom.search.models import SearchDocument
from warroom.search.schemas import SearchPage
from warroom.settings import Settings
from warroom.status.models import StatusUpdate

DOCS_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
TARGET_P99_MS = 50.0
BATCH = 2_000  # incidents whose timelines go in one transaction
ASKERS = {"admin": (ADMIN, "admin"), "security team": (TEAM_MEMBER, "responder")}
ASKERS["viewer"] = (VIEWER, "viewer")
NOTES = (
    "Restarted the {service} pods in {region}; error rate back under 1 %",
    "Error rate {n} % on {service}-api since {hh}:{mm}",
    "Rolled back {service} to {version}",
    "Scaled {service} to {k} replicas, latency recovering",
    "Customer ticket SUP-{ticket} confirms the {service} problem",
    "Dashboard: https://grafana.example.com/d/{service}-overview?from=now-1h",
    "Connection pool of {service}-db at {k}/{k}; raising the limit",
    "Upstream {other} answers slowly, timeouts calling it from {service}",
    "Paged the {other} team; they see a retry storm from {service}",
    "Failover of {service}-db to {region} done, replication lag {n} s",
    "Certificate for {service}.example.com renewed by hand",
    "Disk of {service}-{k}.prod at {n} %, cleaned old logs",
)
SYSTEM = ("acknowledged", "triaged", "paged", "page_status", "role_changed", "notification")
ALERTS = (
    "HighErrorRate",
    "LatencyHigh",
    "KubePodCrashLooping",
    "DiskWillFillIn4Hours",
    "CertificateExpiry",
    "ReplicationLag",
    "TargetDown",
    "CPUThrottlingHigh",
)
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-south-1")
CAUSES = (
    "A retry storm after a deploy doubled the load on {service}",
    "The connection pool of {service} was sized for last year's traffic",
    "An expired certificate on {service}.example.com",
    "A schema migration locked the {service} orders table",
    "A noisy neighbour on the shared {service} cache cluster",
)
# (what, words, filters): a common word, a service, a phrase, a rare ticket, an alert name …
QUERIES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("common word (in ~30 % of incidents)", "latency", {}),
    ("service name", "payments", {}),
    ("two words", "replication lag", {}),
    ("phrase", '"connection pool"', {}),
    ("one ticket (rare)", "SUP-{ticket}", {}),
    ("alert name", "KubePodCrashLooping", {}),
    ("postmortem words", "retry storm", {}),
    ("word + service", "timeouts", {"service": "checkout"}),
    ("word + SEV-1/2, 30 days", "rolled back", {"severity": ["SEV-1", "SEV-2"], "since": "30d"}),
    ("word + closed", "certificate", {"status": ["closed"]}),
    ("no match", "xylophone", {}),
)


@dataclass(frozen=True)
class Options:
    """What to run and how big."""

    stored: int
    requests: int
    warmup: int
    backends: tuple[str, ...]
    write: bool
    postgres_url: str
    cost_rounds: int = 3
    cost_per_round: int = 100


@dataclass
class BackendResult:
    """Everything measured on one backend."""

    name: str
    version: str = ""
    skipped: str | None = None
    stored: int = 0
    documents: int = 0
    seed_seconds: float = 0.0
    # (asker, query) -> timing, and how many incidents it found
    timings: dict[tuple[str, str], Stats] = field(default_factory=dict)
    totals: dict[tuple[str, str], int] = field(default_factory=dict)
    overall: dict[str, Stats] = field(default_factory=dict)
    cpu: dict[str, Stats] = field(default_factory=dict)  # this process's CPU time
    cost: tuple[Stats, Stats] | None = None  # declare + note, with and without the index


# --- seeding ---------------------------------------------------------------------------------


def seed_timelines(runtime: Runtime, console: Console) -> tuple[int, str]:
    """Give every incident a timeline with notes, and alerts, status updates, postmortems and
    action items where they belong; return how many rows and the rare ticket to look for."""
    rng = random.Random(20261205)
    db = runtime.db
    with db.session() as session:
        incidents = session.execute(
            select(
                Incident.id,
                Incident.service,
                Incident.status,
                Incident.severity,
                Incident.source,
                Incident.detected_at,
                Incident.title,
            ).order_by(Incident.id)
        ).all()
    tickets: list[str] = []
    rows = 0
    columns = (
        TextColumn("[bold]timelines"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("timelines", total=len(incidents))
        for first in range(0, len(incidents), BATCH):
            chunk = incidents[first : first + BATCH]
            events: list[dict[str, Any]] = []
            alerts: list[dict[str, Any]] = []
            updates: list[dict[str, Any]] = []
            postmortems: list[dict[str, Any]] = []
            for row in chunk:
                events += _events(rng, row, tickets)
                if row.source in ("alertmanager", "grafana"):
                    alerts.append(_alert(rng, row))
                if row.severity in ("SEV-1", "SEV-2"):
                    updates += _updates(rng, row)
                    if row.status in ("resolved", "closed"):
                        postmortems.append(_postmortem(rng, row))
            with db.write_engine.begin() as connection:
                for model, batch in (
                    (TimelineEvent, events),
                    (Alert, alerts),
                    (StatusUpdate, updates),
                    (Postmortem, postmortems),
                ):
                    if batch:
                        connection.execute(insert(_table(model)), batch)
                ids = [p["incident_id"] for p in postmortems]
                made = connection.execute(
                    select(Postmortem.id, Postmortem.created_at).where(
                        Postmortem.incident_id.in_(ids)
                    )
                ).all()
                items = [
                    _item(rng, postmortem_id, created)
                    for postmortem_id, created in made
                    for _ in range(rng.randint(1, 3))
                ]
                if items:
                    connection.execute(insert(_table(ActionItem)), items)
            rows += len(events) + len(alerts) + len(updates) + len(postmortems) + len(items)
            progress.advance(task, len(chunk))
    return rows, rng.choice(tickets)


def reindex_in_order(runtime: Runtime) -> None:
    """Write the index again in the order the rows were written, as the triggers would have.

    The seed writes every incident, then every timeline; warroom writes an incident's notes
    after it and before the next day's incidents. Migration 0027's backfill orders by time.
    """
    backfill = importlib.import_module("warroom.migrations.versions.0027_search")._backfill
    with runtime.db.write_engine.begin() as connection:
        connection.execute(text("DELETE FROM search_documents"))
        connection.execute(text(backfill(runtime.db.is_sqlite)))


def _table(model: type[Any]) -> SqlTable:
    return cast(SqlTable, model.__table__)


def _fill(rng: random.Random, template: str, service: str, tickets: list[str]) -> str:
    ticket = f"{rng.randint(10_000, 99_999)}"
    if "{ticket}" in template:
        tickets.append(ticket)
    return template.format(
        service=service,
        other=rng.choice(SERVICES),
        region=rng.choice(REGIONS),
        n=rng.randint(2, 95),
        k=rng.randint(2, 64),
        hh=f"{rng.randint(0, 23):02d}",
        mm=f"{rng.randint(0, 59):02d}",
        version=f"v{rng.randint(1, 9)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}",
        ticket=ticket,
    )


def _events(rng: random.Random, row: Any, tickets: list[str]) -> list[dict[str, Any]]:
    """Return an incident's timeline: declared, a few system events and one to four notes."""
    service = row.service or "platform"
    at = row.detected_at
    out = [_event(row.id, at, "declared", f"Declared: {row.title}")]
    for _ in range(rng.randint(2, 6)):
        at += timedelta(minutes=rng.uniform(1, 20))
        kind = rng.choice(SYSTEM)
        out.append(_event(row.id, at, kind, f"{kind.replace('_', ' ')} by the engine"))
    for _ in range(rng.randint(1, 4)):
        at += timedelta(minutes=rng.uniform(1, 30))
        note = _fill(rng, rng.choice(NOTES), service, tickets)
        out.append(_event(row.id, at, "note", note, actor=rng.choice(("alice", "bob", "carol"))))
    return out


def _event(
    incident_id: int, at: datetime, kind: str, words: str, actor: str | None = None
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "at": at,
        "kind": kind,
        "actor": actor,
        "source": "bench",
        "text": words,
        "data": {},
        "key_event": kind == "note",
    }


def _alert(rng: random.Random, row: Any) -> dict[str, Any]:
    name = rng.choice(ALERTS)
    service = row.service or "platform"
    labels = {
        "alertname": name,
        "service": service,
        "severity": rng.choice(("critical", "warning")),
        "instance": f"{service}-{rng.randint(1, 40)}.prod:9100",
        "region": rng.choice(REGIONS),
    }
    return {
        "source": row.source,
        "integration": "prod",
        "kind": "alert",
        "fingerprint": f"bench-{row.id}",
        "status": "resolved",
        "is_open": False,
        "title": f"{name} on {service}",
        "severity": None,
        "labels": labels,
        "annotations": {"summary": f"{name} on {service}"},
        "starts_at": row.detected_at,
        "received_at": row.detected_at,
        "last_seen_at": row.detected_at,
        "seen_count": 1,
        "incident_id": row.id,
        "raw": "{}",
    }


def _updates(rng: random.Random, row: Any) -> list[dict[str, Any]]:
    service = row.service or "platform"
    bodies = (
        f"We are investigating problems with {service}.",
        f"We found the cause of the {service} problem and are fixing it.",
        f"{service} works again; we keep watching it.",
    )
    return [
        {
            "incident_id": row.id,
            "at": row.detected_at + timedelta(minutes=10 * (i + 1)),
            "author": "alice",
            "status": ("investigating", "identified", "monitoring")[i],
            "body": bodies[i],
            "components": {},
            "public": False,
            "public_title": None,
        }
        for i in range(rng.randint(1, 3))
    ]


def _postmortem(rng: random.Random, row: Any) -> dict[str, Any]:
    service = row.service or "platform"
    cause = rng.choice(CAUSES).format(service=service)
    whys = [
        {"question": f"Why did {service} fail?", "answer": cause},
        {"question": "Why was it not caught?", "answer": "No alert on saturation"},
        {"question": "Why no alert?", "answer": "The runbook predates the service"},
    ]
    return {
        "incident_id": row.id,
        "status": "done" if row.status == "closed" else "draft",
        "required": True,
        "due_at": row.detected_at + timedelta(days=5),
        "created_at": row.detected_at + timedelta(hours=3),
        "updated_at": row.detected_at + timedelta(days=2),
        "version": 1,
        "summary": f"{row.title}. Customers saw errors for a while.",
        "impact": f"Some {service} requests failed.",
        "root_cause": cause,
        "five_whys": whys,
        "fishbone": {"Technology": [cause], "Process": ["No load test before the deploy"]},
        "contributing_factors": ["Friday deploy"],
        "went_well": ["Fast rollback"],
        "went_poorly": ["Slow detection"],
        "got_lucky": [],
    }


def _item(rng: random.Random, postmortem_id: int, created: datetime) -> dict[str, Any]:
    titles = ("Alert on pool saturation", "Load test before deploys", "Renew certificates early")
    return {
        "postmortem_id": postmortem_id,
        "kind": rng.choice(("short_term", "long_term")),
        "title": rng.choice(titles),
        "owner": None,
        "due_date": None,
        "status": "open",
        "jira_key": None,
        "created_at": created,
        "updated_at": created,
    }


# --- measuring -------------------------------------------------------------------------------


def index_cost(runtime: Runtime, rounds: int, per_round: int) -> tuple[Stats, Stats]:
    """Time declaring an incident with a note, with the index's triggers and without them,
    in alternating rounds; return (with, without) per incident, in process CPU on SQLite
    (where the triggers run in this process) and by the clock on PostgreSQL."""
    sqlite = runtime.db.is_sqlite
    clock = time.process_time if sqlite else time.perf_counter
    actor = Actor(name=ADMIN, source="bench", role="admin")
    timings: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(rounds * 2):
        indexed = round_ % 2 == 0
        with runtime.db.write_engine.begin() as connection:
            search_triggers(connection, on=indexed)
        for n in range(per_round):
            started = clock()
            made = runtime.flows.declare(actor=actor, title=f"Index cost {round_}-{n} latency")
            runtime.flows.note(made.ref, actor=actor, text="Restarted the pods; latency back")
            timings[indexed].append(clock() - started)
    with runtime.db.write_engine.begin() as connection:
        search_triggers(connection, on=True)
    return Stats.of(timings[True]), Stats.of(timings[False])


def time_queries(
    runtime: Runtime, result: BackendResult, ticket: str, options: Options, console: Console
) -> None:
    """Time each query for each asker: the route's work (filters, query, quotes, shape)."""
    config = runtime.config()
    now = runtime.clock.now()
    for asker, (user, role) in ASKERS.items():
        access = Access(
            user=user,
            role=role,
            teams=frozenset({"security"}) if user == TEAM_MEMBER else frozenset(),
        )
        every: list[float] = []
        cpu: list[float] = []
        for what, words, params in QUERIES:
            q = words.replace("{ticket}", ticket)
            filters = flows.build_filters(config, now=now, **params)
            seconds: list[float] = []
            total = 0
            for i in range(options.warmup + options.requests):
                started, used = time.perf_counter(), time.process_time()
                results = flows.find(runtime.db, config, access, text=q, filters=filters)
                SearchPage.of(results)
                elapsed = time.perf_counter() - started
                if i >= options.warmup:
                    seconds.append(elapsed)
                    cpu.append(time.process_time() - used)
                total = results.total
            result.timings[(asker, what)] = Stats.of(seconds)
            result.totals[(asker, what)] = total
            every += seconds
            console.print(
                f"  {asker:>13} · {what:<36} {total:>6} found  "
                f"p50 {Stats.of(seconds).p50:6.2f} ms  p99 {Stats.of(seconds).p99:6.2f} ms"
            )
        result.overall[asker] = Stats.of(every)
        result.cpu[asker] = Stats.of(cpu)


def measure(
    result: BackendResult, database_url: str | None, options: Options, console: Console
) -> None:
    """Seed a fresh database, then time the queries in this process."""
    import shutil

    with tempfile.TemporaryDirectory(prefix="warroom-bench-search-") as tmp:
        root = Path(tmp)
        runbooks = root / "runbooks"
        shutil.copytree(TEMPLATES, runbooks / "templates")
        settings = Settings(
            data_dir=root / "data", runbooks_dir=runbooks, database_url=database_url
        )
        runtime = build_runtime(settings, config=WarroomConfig.model_validate(bench_config()))
        try:
            make_users(runtime)
            started = time.perf_counter()
            seed(runtime.db, options.stored, console)
            rows, ticket = seed_timelines(runtime, console)
            reindex_in_order(runtime)
            result.seed_seconds = time.perf_counter() - started
            result.stored = options.stored
            if not runtime.db.is_sqlite:
                # What autovacuum does after a bulk load (the visibility map, statistics).
                with runtime.db.write_engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT")
                    connection.execute(text("VACUUM ANALYZE"))
                    # Write the bulk load out now, not during the timed searches (the
                    # checkpointer would otherwise flush a gigabyte under them).
                    connection.execute(text("CHECKPOINT"))
            with runtime.db.session() as session:
                result.documents = int(
                    session.scalar(select(func.count()).select_from(SearchDocument)) or 0
                )
            console.print(
                f"  {options.stored:,} incidents, {rows:,} timeline rows and more, "
                f"{result.documents:,} documents indexed in {result.seed_seconds:.0f} s"
            )
            gc.collect()
            gc.freeze()
            time_queries(runtime, result, ticket, options, console)
            console.print("  index cost: declaring incidents with and without the triggers …")
            result.cost = index_cost(runtime, options.cost_rounds, options.cost_per_round)
            with_, without = result.cost
            console.print(f"  with the index p50 {with_.p50:.2f} ms, without {without.p50:.2f} ms")
        finally:
            runtime.close()


# --- reporting -------------------------------------------------------------------------------


def _pair(stats: Stats) -> str:
    return f"{stats.p50:.2f} / {stats.p99:.2f}"


def _verdict(value: float) -> str:
    return "yes" if value < TARGET_P99_MS else "**no**"


def query_rows(results: list[BackendResult]) -> list[list[str]]:
    """One row per query and backend: incidents found and timings per asker."""
    rows = []
    for r in results:
        for what, _words, _params in QUERIES:
            row = [r.name, what]
            for asker in ASKERS:
                row += [f"{r.totals[(asker, what)]:,}", _pair(r.timings[(asker, what)])]
            rows.append(row)
    return rows


def cost_rows(results: list[BackendResult]) -> list[list[str]]:
    """One row per backend: declare + note with and without the index."""
    rows = []
    for r in results:
        if r.cost is None:
            continue
        with_, without = r.cost
        clock = "CPU of the process" if r.name == "SQLite" else "clock"
        share = (with_.p50 - without.p50) / with_.p50 * 100 if with_.p50 else float("nan")
        rows.append(
            [r.name, clock, f"{with_.count:,}", _pair(without), _pair(with_), f"{share:.1f} %"]
        )
    return rows


COST_HEADERS = (
    "Backend",
    "Measured by",
    "Incidents",
    "without index p50 / p99 (ms)",
    "with index p50 / p99 (ms)",
    "index's share at p50",
)


def overall_rows(results: list[BackendResult]) -> list[list[str]]:
    """One row per backend and asker: every query of the mix together."""
    return [
        [
            r.name,
            asker,
            f"{s.count:,}",
            _pair(s),
            f"{s.max:.2f}",
            _verdict(s.p99),
            _pair(r.cpu[asker]) if asker in r.cpu else "—",
        ]
        for r in results
        for asker, s in r.overall.items()
    ]


QUERY_HEADERS = (
    "Backend",
    "Query",
    *(h for asker in ASKERS for h in (f"{asker}: found", f"{asker}: p50 / p99 (ms)")),
)
OVERALL_HEADERS = (
    "Backend",
    "Asker",
    "Searches",
    "p50 / p99 (ms)",
    "max (ms)",
    "p99 < 50 ms",
    "CPU of this process p50 / p99 (ms)",
)


def print_tables(console: Console, results: list[BackendResult]) -> None:
    """Print the results as Rich tables."""
    for title, headers, rows, text_columns in (
        ("Per query", QUERY_HEADERS, query_rows(results), 2),
        ("The whole mix", OVERALL_HEADERS, overall_rows(results), 2),
        ("What the index costs a new incident", COST_HEADERS, cost_rows(results), 2),
    ):
        table = Table(title=title)
        for index, header in enumerate(headers):
            table.add_column(header, justify="left" if index < text_columns else "right")
        for row in rows:
            table.add_row(*(cell.replace("**", "") for cell in row))
        console.print(table)
    for r in results:
        if r.skipped:
            console.print(f"[yellow]{r.name} skipped:[/] {r.skipped}")


def render_section(
    results: list[BackendResult], options: Options, command: str, seconds: float
) -> str:
    """Return the markdown section for docs/benchmarks.md."""
    machine = machine_info()
    for r in results:
        if r.name == "PostgreSQL":
            machine["PostgreSQL"] = r.version or "not measured"
    seeded = "; ".join(
        f"{r.name}: {r.documents:,} documents, seeded and indexed in {r.seed_seconds:.0f} s"
        for r in results
        if not r.skipped
    )
    lines = [
        "## Search (latest run)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        "- Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()),
        f"- Total run time: {seconds:.0f} s; 1-minute load average at the end:"
        f" {os.getloadavg()[0]:.2f} (other work on the machine adds noise to the p99s)",
        f"- Index: {seeded}",
        "",
        f"The database is `bench.incidents`' {max((r.stored for r in results), default=0):,}"
        " incidents (5 % restricted, with their participants), each with a timeline of 4 to 11"
        " events (1 to 4 of them notes), an alert with labels for those opened by Alertmanager or"
        " Grafana, status updates for SEV-1 and SEV-2, and a postmortem (5 Whys, fishbone) with"
        " action items for the resolved ones; the index is written by its triggers as the rows"
        " go in. Each search is the route's work in one process, one at a time, no network:"
        " the filters checked, the ranked page of 20 with its total, the quotes, the answer's"
        f" shape (`search.flows.find` + `SearchPage.of`); {options.warmup} untimed then"
        f" {options.requests:,} timed searches per cell. The viewer may not see the restricted"
        " 5 % but the few they take part in; the security team sees them all. Times are by"
        " the clock; the last column is this process's CPU time for the same searches, which"
        " other work on the machine does not inflate: on SQLite it is all of the search's work,"
        " on PostgreSQL the server's share is not in it.",
        "",
        markdown_table(OVERALL_HEADERS, overall_rows(results), text_columns=2),
        "",
        markdown_table(QUERY_HEADERS, query_rows(results), text_columns=2),
        "",
        "What the index costs a new incident: after the searches, on the same database,"
        " incidents are declared through `IncidentFlows.declare` (incident, checklist,"
        f" timeline, runbook file) with a note each, {options.cost_per_round} at a time,"
        " alternately with the search triggers and without them (dropped on SQLite,"
        " disabled on PostgreSQL),"
        f" {options.cost_rounds} rounds of each. On SQLite the triggers run in this process,"
        " so its CPU time is measured (steady under other load); on PostgreSQL they run in"
        " the server, so the clock is.",
        "",
        markdown_table(COST_HEADERS, cost_rows(results), text_columns=2),
    ]
    for r in results:
        if r.skipped:
            lines += ["", f"{r.name} was skipped: {r.skipped}"]
    return "\n".join(lines)


def parse_options(argv: list[str]) -> Options:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers for a smoke run")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--stored", type=int, help="incidents to seed (default 100000)")
    parser.add_argument("--requests", type=int, help="timed searches per cell (default 200)")
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    args = parser.parse_args(argv)
    quick = args.quick
    options = Options(
        stored=args.stored or (2_000 if quick else 100_000),
        requests=args.requests or (20 if quick else 200),
        warmup=3 if quick else 10,
        backends=("sqlite", "postgresql") if args.backend == "all" else (args.backend,),
        write=not args.no_write,
        postgres_url=os.environ.get("WARROOM_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        cost_rounds=1 if quick else 3,
        cost_per_round=20 if quick else 100,
    )
    if min(options.stored, options.requests) < 1:
        parser.error("--stored and --requests must be at least 1")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the results and refresh docs/benchmarks.md."""
    argv = sys.argv[1:] if argv is None else argv
    return run_and_record(
        "search",
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
