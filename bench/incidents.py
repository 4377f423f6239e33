"""Incident benchmark: declare-to-resolve throughput and list latency, SQLite and PostgreSQL.

Run with `make bench` or `.venv/bin/python -m bench.incidents [--quick] [--backend ...]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Table as SqlTable
from sqlalchemy import create_engine, delete, insert, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError

from bench.common import (
    REPO_ROOT,
    Stats,
    client,
    command_line,
    machine_info,
    markdown_table,
    write_section,
)
from bench.common import warroom_server as serve
from warroom.app import build_runtime
from warroom.auth import service as auth
from warroom.config import WarroomConfig
from warroom.core.text import slugify
from warroom.incidents.models import Incident, IncidentGrant, IncidentRole
from warroom.incidents.queries import ListFilters
from warroom.incidents.visibility import access_for
from warroom.runtime import Runtime
from warroom.settings import Settings, normalise_database_url
from warroom.storage.counters import Counter
from warroom.storage.db import Database

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCRATCH_DATABASE = "warroom_bench"
TEMPLATES = REPO_ROOT / "docs" / "runbooks" / "templates"
DOCS_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
TARGET_P99_MS = 25.0
PAGE = 50
SEED_BATCH = 5_000
STEPS = ("declare", "acknowledge", "triage", "mitigate", "resolve")
SERVICES = (
    "checkout",
    "payments",
    "search",
    "auth",
    "api-gateway",
    "catalog",
    "inventory",
    "orders",
    "shipping",
    "notifications",
    "recommendations",
    "billing",
    "accounts",
    "media",
    "reporting",
    "warehouse",
    "ledger",
    "pricing",
    "fraud",
    "support",
    "cdn",
    "dns",
    "queue",
    "storage",
)
SYMPTOMS = (
    "elevated 5xx rate",
    "p99 latency above SLO",
    "error budget burning fast",
    "database connection pool exhausted",
    "disk almost full",
    "memory saturation and OOM kills",
    "certificate expiring",
    "queue backlog growing",
    "failed deploy rolled back",
    "partial outage in eu-west",
    "timeouts calling upstream",
    "login failures reported by customers",
    "data replication lag",
    "suspicious access pattern",
    "CPU throttling",
)
PEOPLE = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
# Everyone else who is paged or holds a role: an organisation of about sixty responders.
RESPONDERS = PEOPLE + tuple(f"responder{i:02d}" for i in range(1, 53))
SOURCES = ("alertmanager", "alertmanager", "grafana", "api", "cli", "web")
# Who asks for the list: an admin sees everything; a member of the security team (the built-in
# `security` type's access team) sees every restricted incident; a viewer outside it sees the
# public ones and the few restricted ones they take part in.
ADMIN, TEAM_MEMBER, VIEWER = "ada", "sam", "victor"
ASKERS = (
    ("admin", ADMIN, "admin"),
    ("security team", TEAM_MEMBER, "responder"),
    ("viewer, participant", VIEWER, "viewer"),
)
VIEWER_PARTICIPATIONS = 6  # restricted incidents the viewer takes part in, one way each


@dataclass(frozen=True)
class Options:
    """What to run and how big."""

    incidents: int
    clients: int
    stored: int
    requests: int
    warmup: int
    backends: tuple[str, ...]
    write: bool
    postgres_url: str


@dataclass
class LifecycleResult:
    """Declare → resolve throughput through the API."""

    incidents: int
    clients: int
    seconds: float
    requests: Stats
    steps: dict[str, Stats]
    archived_files: int

    @property
    def per_second(self) -> float:
        """Return incidents taken from declare to resolve per second."""
        return self.incidents / self.seconds


@dataclass(frozen=True)
class ListResult:
    """Latency of one list query, asked by one user."""

    who: str
    name: str
    items: int
    stats: Stats
    # The same page from IncidentFlows.page in this process, by CPU time: the query's own
    # cost, which other work on the machine does not inflate (PostgreSQL's share excluded).
    cpu: Stats


class Measured(Protocol):
    """What `measure_backends` fills in of a benchmark's result for one backend."""

    name: str
    version: str
    skipped: str | None


R = TypeVar("R", bound=Measured)


@dataclass
class BackendResult:
    """Everything measured on one database backend."""

    name: str
    version: str = ""
    skipped: str | None = None
    seed_seconds: float = 0.0
    stored: int = 0
    lifecycle: LifecycleResult | None = None
    lifecycle_error: str | None = None
    lists: list[ListResult] = field(default_factory=list)

    def list_target_met(self) -> bool:
        """Tell whether every list query's p99 is under the target."""
        return bool(self.lists) and all(r.stats.p99 < TARGET_P99_MS for r in self.lists)


# --- seeding -------------------------------------------------------------------------------


def _weighted(rng: random.Random, choices: dict[str, float]) -> str:
    """Pick a key of `choices` with probability proportional to its weight."""
    return rng.choices(list(choices), weights=list(choices.values()))[0]


def _minutes(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=rng.uniform(low, high))


def incident_row(
    rng: random.Random, number: int, detected: datetime, now: datetime
) -> dict[str, Any]:
    """Return one realistic incident row; older incidents are mostly closed."""
    recent = now - detected < timedelta(days=14)
    status = _weighted(
        rng,
        {"detected": 10, "triaged": 13, "mitigated": 12, "resolved": 35, "closed": 30}
        if recent
        else {"detected": 0.4, "triaged": 0.6, "mitigated": 1, "resolved": 12, "closed": 86},
    )
    kind = _weighted(rng, {"default": 80, "resource-saturation": 15, "security": 5})
    severity = (
        _weighted(rng, {"SEV-1": 70, "SEV-2": 30})
        if kind == "security"
        else _weighted(rng, {"SEV-1": 3, "SEV-2": 12, "SEV-3": 45, "SEV-4": 40})
    )
    service: str | None = None
    if rng.random() > 0.08:
        service = rng.choices(SERVICES, weights=[1 / (i + 1) for i in range(len(SERVICES))])[0]
    title = f"{service or 'platform'}: {rng.choice(SYMPTOMS)}"
    rank = ("detected", "triaged", "mitigated", "resolved", "closed").index(status)
    acked = rank > 0 or rng.random() < 0.5
    ack_at = detected + _minutes(rng, 1, 15) if acked else None
    triaged_at = ack_at + _minutes(rng, 2, 30) if ack_at and rank >= 1 else None
    mitigated_at = triaged_at + _minutes(rng, 10, 240) if triaged_at and rank >= 2 else None
    resolved_at = mitigated_at + _minutes(rng, 10, 600) if mitigated_at and rank >= 3 else None
    closed_at = None
    if resolved_at and rank == 4:
        closed_at = min(resolved_at + timedelta(days=rng.uniform(1, 14)), now)
    stamps = [t for t in (detected, ack_at, triaged_at, mitigated_at, resolved_at, closed_at) if t]
    commander = rng.choice(PEOPLE) if rank >= 1 else None
    return {
        "number": number,
        "slug": slugify(title),
        "title": title,
        "summary": f"{title}. Seeded by bench.incidents.",
        "status": status,
        "severity": severity,
        "peak_severity": severity,
        "incident_type": kind,
        "service": service,
        "commander": commander,
        "impact": "Some customers see errors at checkout." if commander else None,
        "scope": f"{service or 'platform'} in one region" if commander else None,
        "priority": rng.choice(("P1", "P2", "P3", "P4")) if commander else None,
        "visibility": "restricted" if kind == "security" else "public",
        "source": rng.choice(SOURCES),
        "runbook_template": {"security": "security-breach", "default": "generic"}.get(
            kind, "resource-saturation"
        ),
        "owner": "incident-response",
        "module": service or "general",
        "created_by": rng.choice(PEOPLE),
        "acknowledged_by": rng.choice(PEOPLE) if ack_at else None,
        "started_at": detected - _minutes(rng, 1, 90) if rng.random() < 0.3 else None,
        "detected_at": detected,
        "acknowledged_at": ack_at,
        "triaged_at": triaged_at,
        "mitigated_at": mitigated_at,
        "resolved_at": resolved_at,
        "closed_at": closed_at,
        "updated_at": min(max(stamps), now),
    }


def participant_rows(
    rng: random.Random, incident_id: int, row: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the role and grant rows of one seeded incident, as responding leaves them."""
    roles: list[dict[str, Any]] = []
    grants: list[dict[str, Any]] = []
    at = row["acknowledged_at"] or row["detected_at"]

    def role(name: str, person: str) -> None:
        roles.append(
            {
                "incident_id": incident_id,
                "role": name,
                "person": person,
                "since": at,
                "until": row["closed_at"],
                "assigned_by": row["commander"],
            }
        )

    if row["created_by"] and rng.random() < 0.5:
        role("reporter", row["created_by"])
    if row["commander"]:
        if rng.random() < 0.4:
            role("scribe", rng.choice(RESPONDERS))
        if row["severity"] in ("SEV-1", "SEV-2") and rng.random() < 0.5:
            role("deputy", rng.choice(RESPONDERS))
        if row["severity"] == "SEV-1" and rng.random() < 0.5:
            role("communications", rng.choice(RESPONDERS))
        for person in rng.sample(RESPONDERS, rng.choice((0, 0, 1, 2))):
            role("sme", person)
    # The escalation lets everyone it pages in (escalation/tick.py), public or not; on
    # restricted incidents someone is also let in by hand now and then.
    paged = rng.sample(RESPONDERS, rng.choice((1, 1, 2, 3)))
    granted = rng.sample(RESPONDERS, rng.choice((0, 1, 2))) if row["visibility"] != "public" else []
    for kind, people in (("paged", paged), ("grant", granted)):
        for person in people:
            if any(g["person"] == person for g in grants):
                continue
            grants.append(
                {
                    "incident_id": incident_id,
                    "person": person,
                    "kind": kind,
                    "reason": "needed for the investigation" if kind == "grant" else None,
                    "granted_by": row["commander"] if kind == "grant" else None,
                    "granted_at": at,
                }
            )
    return roles, grants


def seed(db: Database, count: int, console: Console) -> float:
    """Bulk-insert `count` incidents spread over the last year, with their roles and grants,
    and let the viewer into a few restricted ones; return the seconds taken."""
    rng = random.Random(20260101)
    now = datetime.now(UTC)
    span = timedelta(days=365).total_seconds()
    table = cast(SqlTable, Incident.__table__)
    started = time.perf_counter()
    columns = (
        TextColumn("[bold]seeding"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    restricted: list[int] = []
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("seed", total=count)
        for first in range(1, count + 1, SEED_BATCH):
            last = min(count, first + SEED_BATCH - 1)
            rows = []
            for number in range(first, last + 1):
                offset = span * (1 - number / (count + 1)) + rng.uniform(-600, 600)
                detected = now - timedelta(seconds=max(offset, 60))
                rows.append(incident_row(rng, number, detected, now))
            with db.write_engine.begin() as connection:
                connection.execute(insert(table), rows)
                ids = dict(
                    connection.execute(
                        select(table.c.number, table.c.id).where(
                            table.c.number.between(first, last)
                        )
                    ).all()
                )
                roles, grants = [], []
                for row in rows:
                    more_roles, more_grants = participant_rows(rng, ids[row["number"]], row)
                    roles += more_roles
                    grants += more_grants
                    if row["visibility"] == "restricted":
                        restricted.append(ids[row["number"]])
                if roles:
                    connection.execute(insert(IncidentRole), roles)
                connection.execute(insert(IncidentGrant), grants)
            progress.advance(task, len(rows))
        with db.write_engine.begin() as connection:
            connection.execute(delete(Counter).where(Counter.name == "incident_number"))
            connection.execute(insert(Counter).values(name="incident_number", value=count))
            _let_viewer_in(connection, rng, restricted, now)
    return time.perf_counter() - started


def _let_viewer_in(
    connection: Connection, rng: random.Random, restricted: list[int], now: datetime
) -> None:
    """Make the viewer a participant of a few restricted incidents, each in another way."""
    chosen = sorted(rng.sample(restricted, min(VIEWER_PARTICIPATIONS, len(restricted))))
    table = cast(SqlTable, Incident.__table__)
    for way, incident_id in zip(
        ("declared", "commander", "scribe", "sme", "paged", "grant"), chosen, strict=False
    ):
        if way in ("declared", "commander"):
            column = "created_by" if way == "declared" else "commander"
            stmt = update(table).where(table.c.id == incident_id).values({column: VIEWER})
            connection.execute(stmt)
        elif way in ("scribe", "sme"):
            connection.execute(
                insert(IncidentRole).values(
                    incident_id=incident_id, role=way, person=VIEWER, since=now
                )
            )
        else:
            connection.execute(
                insert(IncidentGrant).values(
                    incident_id=incident_id, person=VIEWER, kind=way, granted_at=now
                )
            )


def bench_config() -> dict[str, Any]:
    """Return the warroom.yaml of the benchmark: its people, and the security team."""
    names = (ADMIN, TEAM_MEMBER, VIEWER, "bench", *RESPONDERS)
    return {
        "people": [{"id": name, "name": name.capitalize()} for name in names],
        "teams": [{"id": "security", "name": "Security", "members": [TEAM_MEMBER]}],
    }


# --- the HTTP measurements ------------------------------------------------------------------


def _check(response: httpx.Response, expected: int) -> dict[str, Any]:
    """Return the JSON body, or raise naming the request and the server's answer."""
    if response.status_code != expected:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def drive_incident(
    http: httpx.Client,
    index: int,
    timings: dict[str, list[float]],
    incident_type: str | None = None,
) -> None:
    """Take one new incident from declare to resolve, recording each request's latency."""
    service = SERVICES[index % len(SERVICES)]
    declare = {
        "title": f"{service}: {SYMPTOMS[index % len(SYMPTOMS)]} (bench {index})",
        "severity": ("SEV-2", "SEV-3", "SEV-4", "SEV-1")[index % 4],
        "service": service,
        "incident_type": incident_type or ("resource-saturation" if index % 3 == 0 else "default"),
        "summary": "Raised by bench.incidents.",
    }
    started = time.perf_counter()
    response = http.post("/api/v1/incidents", json=declare)
    timings["declare"].append(time.perf_counter() - started)
    ref = f"/api/v1/incidents/{_check(response, 201)['number']}"
    triage = {
        "commander": PEOPLE[index % len(PEOPLE)],
        "severity": "SEV-2",
        "impact": "Checkout requests fail for a share of customers.",
        "scope": f"{service}, all regions",
        "priority": "P2",
        "note": "Initial assessment done.",
    }
    steps: tuple[tuple[str, dict[str, Any] | None], ...] = (
        ("acknowledge", None),
        ("triage", triage),
        ("mitigate", {"note": "Rolled back the last deploy."}),
        # The Verification items are settled in the resolve's own transaction (one request,
        # as before the resolve gate existed), so throughput stays comparable across runs.
        (
            "resolve",
            {
                "note": "Error rate back to baseline for 15 minutes.",
                "skip_verification": "checked on the dashboards (bench)",
            },
        ),
    )
    for step, body in steps:
        started = time.perf_counter()
        response = http.post(f"{ref}/{step}", json=body)
        timings[step].append(time.perf_counter() - started)
        _check(response, 200)


def run_lifecycle(
    base_url: str,
    token: str,
    options: Options,
    runbooks: Path,
    incident_type: str | None = None,
) -> LifecycleResult:
    """Drive `options.incidents` incidents through the lifecycle from concurrent clients."""
    with client(base_url, token) as http:  # warm-up, not counted
        drive_incident(http, -1, {step: [] for step in STEPS}, incident_type)
    clients = max(1, min(options.clients, options.incidents))
    shares = [range(i, options.incidents, clients) for i in range(clients)]
    barrier = threading.Barrier(clients + 1, timeout=60)
    merged: dict[str, list[float]] = {step: [] for step in STEPS}
    lock = threading.Lock()

    def worker(share: range) -> None:
        timings: dict[str, list[float]] = {step: [] for step in STEPS}
        with client(base_url, token) as http:
            barrier.wait()
            for index in share:
                drive_incident(http, index, timings, incident_type)
        with lock:
            for step, values in timings.items():
                merged[step].extend(values)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(worker, share) for share in shares]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - started
    archived = len(list((runbooks / "archive").glob("INC-*.md")))
    if archived < options.incidents:
        raise RuntimeError(f"only {archived} of {options.incidents} runbook files archived")
    return LifecycleResult(
        incidents=options.incidents,
        clients=clients,
        seconds=elapsed,
        requests=Stats.of([t for values in merged.values() for t in values]),
        steps={step: Stats.of(values) for step, values in merged.items()},
        archived_files=archived,
    )


def _time_list(http: httpx.Client, params: dict[str, str], options: Options) -> tuple[Stats, int]:
    """Time GET /api/v1/incidents with `params`; return the latency and the page size."""
    timings = []
    items = 0
    for attempt in range(options.warmup + options.requests):
        started = time.perf_counter()
        response = http.get("/api/v1/incidents", params=params)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            _check(response, 200)
        if attempt >= options.warmup:
            timings.append(elapsed)
        else:
            items = len(response.json()["items"])
    return Stats.of(timings), items


def _time_page(runtime: Runtime, who: str, params: dict[str, str], options: Options) -> Stats:
    """Time IncidentFlows.page for the asker and parameters in this process, by CPU time."""
    name, role = next((name, role) for label, name, role in ASKERS if label == who)
    access = access_for(runtime.config(), user=name, role=role)
    filters = ListFilters(
        status=[params["status"]] if "status" in params else None,
        severity=[params["severity"]] if "severity" in params else None,
        service=params.get("service"),
        incident_type=params.get("type"),
        since=datetime.fromisoformat(params["since"]) if "since" in params else None,
    )
    timings = []
    for attempt in range(options.warmup + options.requests):
        used = time.process_time()
        runtime.flows.page(access=access, filters=filters, limit=PAGE, cursor=params.get("cursor"))
        if attempt >= options.warmup:
            timings.append(time.process_time() - used)
    return Stats.of(timings)


def run_lists(
    base_url: str, tokens: dict[str, str], options: Options, stored: int, runtime: Runtime
) -> list[ListResult]:
    """Measure the list queries a responder's screens make, for each user who asks, one
    client, one request at a time; then the same pages in process."""
    since = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="seconds")
    # The viewer sees about 95 % of the incidents: stay within their pages on a small seed.
    depth = max(1, min(100, int(stored * 0.9) // PAGE - 1))
    results = []
    for who, token in tokens.items():
        with client(base_url, token) as http:
            cursor: str | None = None
            for _ in range(depth):
                params = {"limit": str(PAGE)} | ({"cursor": cursor} if cursor else {})
                cursor = _check(http.get("/api/v1/incidents", params=params), 200)["next_cursor"]
                if not isinstance(cursor, str):
                    raise RuntimeError(f"ran out of pages before page {depth + 1}")
            scenarios: list[tuple[str, dict[str, str]]] = [
                ("first page, unfiltered", {}),
                ("status=triaged", {"status": "triaged"}),
                ("severity=SEV-1 & service=checkout", {"severity": "SEV-1", "service": "checkout"}),
                (f"page {depth + 1} via cursor", {"cursor": str(cursor)}),
                ("since=30 days ago", {"since": since}),
                # Every row of this type is restricted: for the viewer, the worst case.
                ("type=security", {"type": "security"}),
            ]
            for name, params in scenarios:
                stats, items = _time_list(http, {"limit": str(PAGE), **params}, options)
                cpu = _time_page(runtime, who, params, options)
                results.append(ListResult(who=who, name=name, items=items, stats=stats, cpu=cpu))
    return results


# --- backends --------------------------------------------------------------------------------


class Unreachable(Exception):
    """The PostgreSQL server could not be reached; the backend is skipped."""


@contextmanager
def scratch_postgres(url: str) -> Iterator[tuple[str, str]]:
    """Create a fresh `warroom_bench` database; yield (its URL, server version); drop it."""
    admin_url = make_url(normalise_database_url(url))
    admin: Engine = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    drop = f'DROP DATABASE IF EXISTS "{SCRATCH_DATABASE}" WITH (FORCE)'
    try:
        try:
            connection = admin.connect()
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            where = f"{admin_url.host}:{admin_url.port or 5432}"
            raise Unreachable(f"PostgreSQL at {where} unreachable ({reason})") from exc
        with connection:
            version = str(connection.execute(text("SHOW server_version")).scalar())
            connection.execute(text(drop))
            connection.execute(text(f'CREATE DATABASE "{SCRATCH_DATABASE}"'))
        try:
            yield admin_url.set(database=SCRATCH_DATABASE).render_as_string(False), version
        finally:
            with admin.connect() as connection:
                connection.execute(text(drop))
    finally:
        admin.dispose()


def server_folder(root: Path, database_url: str | None) -> tuple[dict[str, str], Settings]:
    """Lay out `root` for `warroom serve` (runbook templates, warroom.yaml); return the
    server's environment and the same settings for an in-process runtime."""
    runbooks = root / "runbooks"
    shutil.copytree(TEMPLATES, runbooks / "templates")
    config_file = root / "warroom.yaml"
    config_file.write_text(json.dumps(bench_config(), indent=1), encoding="utf-8")  # YAML
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
    env |= {
        "WARROOM_DATA_DIR": str(root / "data"),
        "WARROOM_RUNBOOKS_DIR": str(runbooks),
        "WARROOM_CONFIG": str(config_file),
    }
    if database_url is not None:
        env["WARROOM_DATABASE_URL"] = database_url
    settings = Settings(data_dir=root / "data", runbooks_dir=runbooks, database_url=database_url)
    return env, settings


def measure(
    result: BackendResult, database_url: str | None, options: Options, console: Console
) -> None:
    """Seed a fresh database, start the real server on it and run both measurements."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        root = Path(tmp)
        env, settings = server_folder(root, database_url)
        runbooks = settings.runbooks_dir
        runtime = build_runtime(settings, config=WarroomConfig.model_validate(bench_config()))
        try:
            token, tokens = make_users(runtime)
            result.seed_seconds = seed(runtime.db, options.stored, console)
            result.stored = options.stored
            if not runtime.db.is_sqlite:
                # What autovacuum does shortly after a bulk load; warroom never runs ANALYZE
                # on SQLite, so SQLite is measured without statistics, as it runs for users.
                with runtime.db.write_engine.begin() as connection:
                    connection.execute(text("ANALYZE incidents, incident_roles, incident_grants"))
        finally:
            # The lists are timed in process too, on a fresh pool, after the server has run.
            runtime.db.dispose()
        # Keep the client's own garbage collector out of the timings: everything built so far
        # (SQLAlchemy, the seeding) is long-lived, so exempt it from full collections.
        gc.collect()
        gc.freeze()
        with serve(env, root, root / "server.log") as base_url:
            console.print(f"  server at {base_url}; driving {options.incidents} incidents …")
            try:
                result.lifecycle = run_lifecycle(base_url, token, options, runbooks)
            except RuntimeError as exc:
                # Say why on the page and go on to the lists: a failed write does not make
                # the read figures wrong. The log goes with the temporary directory.
                result.lifecycle_error = f"{exc}; the server logged: {_first_error(root)}"
                console.print(f"[red]lifecycle failed:[/] {result.lifecycle_error}")
            console.print("  timing list queries …")
            result.lists = run_lists(base_url, tokens, options, options.stored, runtime)
        runtime.db.dispose()


def _first_error(root: Path) -> str:
    """Return the first ERROR line of the server's log and the exception it ends with."""
    lines = (root / "server.log").read_text(encoding="utf-8", errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if " ERROR " in line), None)
    if start is None:
        return "no ERROR line"
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:4].isdigit()), len(lines))
    causes = [line for line in lines[start:end] if line.startswith(("psycopg.", "sqlite3."))]
    return " ".join([lines[start].split(" ERROR ", 1)[1].strip(), *causes[:1]])


def make_users(runtime: Runtime) -> tuple[str, dict[str, str]]:
    """Create the users; return the lifecycle's responder token and a token per asker."""
    with runtime.db.transaction() as session:
        now = runtime.clock.now()
        user = auth.create_user(session, name="bench", role="responder", now=now)
        token = auth.create_token(session, user=user, name="bench", now=now)
        tokens = {}
        for who, name, role in ASKERS:
            asker = auth.create_user(session, name=name, role=role, now=now)
            tokens[who] = auth.create_token(session, user=asker, name="bench", now=now)
    return token, tokens


def measure_backends(
    backends: Iterable[str],
    make: Callable[[str], R],
    measure: Callable[[R, str | None], None],
    postgres_url: str,
    console: Console,
) -> list[R]:
    """Measure those of `backends` that are asked for: SQLite (a file in the data directory)
    and PostgreSQL (a scratch database, or say why it was skipped); a result for each."""
    import sqlite3

    results = []
    if "sqlite" in backends:
        result = make("SQLite")
        result.version = sqlite3.sqlite_version
        console.rule("SQLite")
        measure(result, None)
        results.append(result)
    if "postgresql" in backends:
        result = make("PostgreSQL")
        console.rule("PostgreSQL")
        try:
            with scratch_postgres(postgres_url) as (url, version):
                result.version = version
                measure(result, url)
        except Unreachable as exc:
            result.skipped = str(exc)
            console.print(f"[yellow]skipped:[/] {result.skipped}")
        results.append(result)
    return results


def run_and_record(
    name: str,
    argv: list[str],
    options: Any,
    *,
    width: int,
    make: Callable[[str], R],
    measure: Callable[[R, str | None, Any, Console], None],
    print_tables: Callable[[Console, list[R]], None],
    render_section: Callable[[list[R], Any, str, float], str],
) -> int:
    """A backend benchmark's main (`bench.<name>`): measure the backends asked for, print the
    tables, and with `options.write` refresh its section of docs/benchmarks.md."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=width)
    started = time.perf_counter()
    results = measure_backends(
        options.backends,
        make,
        lambda result, url: measure(result, url, options, console),
        options.postgres_url,
        console,
    )
    seconds = time.perf_counter() - started
    print_tables(console, results)
    console.print(f"total run time {seconds:.0f} s")
    if options.write:
        section = render_section(results, options, command_line(f"bench.{name}", argv), seconds)
        write_section(DOCS_PAGE, name, section)
        console.print(f"wrote {DOCS_PAGE.relative_to(REPO_ROOT)}")
    return 0


# --- reporting -------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value:.1f}"


def lifecycle_rows(results: list[BackendResult]) -> list[list[str]]:
    """Return the throughput table's rows."""
    rows = []
    for r in results:
        if r.lifecycle is None:
            continue
        life = r.lifecycle
        rows.append(
            [
                r.name,
                f"{life.incidents:,}",
                str(life.clients),
                f"{life.seconds:.1f}",
                f"{life.per_second:.1f}",
                f"{life.requests.count:,}",
                _ms(life.requests.p50),
                _ms(life.requests.p99),
            ]
        )
    return rows


def step_rows(results: list[BackendResult]) -> list[list[str]]:
    """Return per-step p50 / p99 rows."""
    return [
        [r.name] + [f"{_ms(s.p50)} / {_ms(s.p99)}" for s in r.lifecycle.steps.values()]
        for r in results
        if r.lifecycle is not None
    ]


def list_rows(results: list[BackendResult]) -> list[list[str]]:
    """Return the list-latency table's rows."""
    rows = []
    for r in results:
        for item in r.lists:
            met = "yes" if item.stats.p99 < TARGET_P99_MS else "**no**"
            rows.append(
                [
                    r.name,
                    item.who,
                    item.name,
                    str(item.items),
                    f"{item.stats.count:,}",
                    _ms(item.stats.p50),
                    _ms(item.stats.p99),
                    f"{item.cpu.p50:.2f} / {item.cpu.p99:.2f}",
                    met,
                ]
            )
    return rows


LIFECYCLE_HEADERS = (
    "Backend",
    "Incidents",
    "Clients",
    "Wall (s)",
    "Incidents/s",
    "Requests",
    "p50 (ms)",
    "p99 (ms)",
)
STEP_HEADERS = ("Backend", *(f"{step} p50 / p99 (ms)" for step in STEPS))
LIST_HEADERS = (
    "Backend",
    "Who asks",
    "Query",
    "Items",
    "Requests",
    "p50 (ms)",
    "p99 (ms)",
    "in process, CPU p50 / p99 (ms)",
    "p99 < 25 ms",
)


def print_tables(console: Console, results: list[BackendResult]) -> None:
    """Print the results as Rich tables."""
    for title, headers, rows in (
        ("Declare → resolve through the HTTP API", LIFECYCLE_HEADERS, lifecycle_rows(results)),
        ("Per request, by step", STEP_HEADERS, step_rows(results)),
        ("Incident list, page of 50", LIST_HEADERS, list_rows(results)),
    ):
        if not rows:
            continue
        table = Table(title=title)
        text_columns = 3 if headers is LIST_HEADERS else 2
        for index, header in enumerate(headers):
            table.add_column(header, justify="left" if index < text_columns else "right")
        for row in rows:
            table.add_row(*(cell.replace("**", "") for cell in row))
        console.print(table)
    for r in results:
        if r.skipped:
            console.print(f"[yellow]{r.name} skipped:[/] {r.skipped}")
        elif r.lists:
            verdict = "met" if r.list_target_met() else "NOT met"
            console.print(f"{r.name}: list p99 < {TARGET_P99_MS:.0f} ms target {verdict}")


def _table(headers: tuple[str, ...], rows: list[list[str]], text_columns: int = 1) -> str:
    """Render a markdown table, or say that nothing was measured."""
    if not rows:
        return "_Not measured in this run._"
    return markdown_table(headers, rows, text_columns=text_columns)


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
        "## Incidents (latest run)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Command: `{command}`",
        "- Machine: " + "; ".join(f"{k}: {v}" for k, v in machine.items()),
        f"- Total run time: {seconds:.0f} s; 1-minute load average at the end:"
        f" {os.getloadavg()[0]:.2f} (other work on the machine adds noise to the p99s)",
        "",
        "### Declare → resolve through the HTTP API",
        "",
        f"Each incident is declared, acknowledged, triaged (commander, severity, impact, scope,"
        f" priority), mitigated and resolved: five requests, each one database transaction and"
        f" one runbook file written under a real temporary `active/`/`archive/`. The server is"
        f" `warroom serve` (one process, logging at INFO to a file); {options.clients} client"
        f" threads on the same machine share the incidents. Incidents/s counts whole"
        " lifecycles; latencies are per request as the client sees them. Runs after the"
        f" {stored:,} incidents below are stored.",
        "",
        _table(LIFECYCLE_HEADERS, lifecycle_rows(results)),
        "",
        _table(STEP_HEADERS, step_rows(results)),
        "",
        f"### Incident list with {stored:,} incidents stored",
        "",
        f"{stored:,} incidents bulk-inserted (mixed statuses, severities, 24 services, three"
        " types, detected over the past year), 5 % of them of the built-in `security` type and"
        " so restricted, with the participants responding leaves: response roles (reporter,"
        " scribe, deputy, communications, SMEs) from an organisation of 60 responders, the"
        " people paged let in on every incident (as the escalation does) and people let in"
        " by hand on restricted ones. `ANALYZE` on PostgreSQL as autovacuum would, none on"
        " SQLite as warroom runs it. Then `GET /api/v1/incidents?limit=50` over loopback, one"
        f" request at a time: {options.warmup} warm-up then {options.requests} timed requests"
        " per query, asked by three users: an admin (sees everything), a member of the"
        " `security` team, the type's access team (sees everything too, by another branch of"
        " the rule), and a viewer in no team who takes part in"
        f" {VIEWER_PARTICIPATIONS} restricted incidents, one way each (declared it, commands"
        " it, scribe, SME, paged, let in): for the viewer every restricted row is checked"
        " against the participants, and `type=security` is the worst case, as every row of"
        " the type must be checked to find the few visible ones. The in-process column times"
        " the same page from `IncidentFlows.page` (what the route calls, without HTTP,"
        " authentication and JSON) in the benchmark's own process, by CPU time: the query's"
        " own cost, which other work on the machine does not inflate; on PostgreSQL it leaves"
        " out the server's share."
        f" Target: p99 < {TARGET_P99_MS:.0f} ms. Seeding took "
        + ", ".join(f"{r.seed_seconds:.0f} s on {r.name}" for r in results if r.stored)
        + ".",
        "",
        _table(LIST_HEADERS, list_rows(results), text_columns=3),
        "",
    ]
    for r in results:
        if r.lifecycle_error:
            lines.append(f"- {r.name}: declare → resolve **failed**: {r.lifecycle_error}.")
        if r.skipped:
            lines.append(f"- {r.name}: skipped — {r.skipped}.")
        elif r.lists:
            verdict = "met" if r.list_target_met() else "**not met**"
            lines.append(f"- {r.name}: list p99 < {TARGET_P99_MS:.0f} ms target {verdict}.")
    lines += [
        "",
        "The viewer's `type=security` row is the rule's worst case: every restricted incident"
        " of the type is checked to find the few the viewer takes part in. What limits it and"
        " the target proposed for it: docs/adr/010-access-control-cost.md.",
    ]
    return "\n".join(lines)


# --- entry point -----------------------------------------------------------------------------


def parse_options(argv: list[str]) -> Options:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.incidents", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small numbers for a smoke run")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--incidents", type=int, help="incidents to declare (default 300)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--stored", type=int, help="incidents to seed (default 100000)")
    parser.add_argument("--requests", type=int, help="timed requests per list query (500)")
    parser.add_argument("--no-write", action="store_true", help="do not touch the docs")
    args = parser.parse_args(argv)
    quick = args.quick
    backends = ("sqlite", "postgresql") if args.backend == "all" else (args.backend,)
    options = Options(
        incidents=args.incidents or (30 if quick else 300),
        clients=args.clients,
        stored=args.stored or (2_000 if quick else 100_000),
        requests=args.requests or (50 if quick else 500),
        warmup=5 if quick else 20,
        backends=backends,
        write=not args.no_write,
        postgres_url=os.environ.get("WARROOM_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
    )
    if min(options.incidents, options.clients, options.stored, options.requests) < 1:
        parser.error("--incidents, --clients, --stored and --requests must be at least 1")
    if options.stored < 2 * PAGE:
        parser.error(f"--stored must be at least {2 * PAGE} to have a second page")
    return options


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the results and refresh docs/benchmarks.md."""
    argv = sys.argv[1:] if argv is None else argv
    return run_and_record(
        "incidents",
        argv,
        parse_options(argv),
        width=150,
        make=lambda name: BackendResult(name=name),
        measure=measure,
        print_tables=print_tables,
        render_section=render_section,
    )


if __name__ == "__main__":
    raise SystemExit(main())
