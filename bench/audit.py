"""Audit benchmark: what the audit log costs declare → resolve, and how fast `verify` runs.

1. Restricted incidents (every request on them is audited, the most the log writes) driven
   from declare to resolve through the real server, with the audit log on and off, three
   times each, interleaved; SQLite and PostgreSQL.
2. `warroom audit verify` over 1,000,000 entries (seeded directly, chained as warroom does).

Run with `make bench` or `.venv/bin/python -m bench.audit [--quick] [--backend ...]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import insert, update

from bench.common import REPO_ROOT, command_line, machine_info, markdown_table, write_section
from bench.common import warroom_server as serve
from bench.incidents import (
    DEFAULT_POSTGRES_URL,
    Options,
    Unreachable,
    bench_config,
    make_users,
    run_lifecycle,
    scratch_postgres,
    server_folder,
)
from warroom.app import build_runtime
from warroom.audit.chain import GENESIS, entry_hash, hashed_fields
from warroom.audit.models import AuditEntry, AuditHead
from warroom.audit.verify import verify
from warroom.config import WarroomConfig
from warroom.storage.db import Database

DOCS_PAGE = REPO_ROOT / "docs" / "benchmarks.md"
TARGET_DROP = 0.10
TARGET_VERIFY_S = 10.0
RUNS = 3  # pairs of runs, audit off then on: the best of each is compared
SEED_BATCH = 10_000


@dataclass
class Result:
    """One backend's figures."""

    name: str
    per_second: dict[str, list[float]] = field(default_factory=lambda: {"off": [], "on": []})
    entries: int = 0
    seed_seconds: float = 0.0
    verify_seconds: float = 0.0
    verified: int = 0
    skipped: str | None = None

    def best(self, mode: str) -> float:
        """Return the best throughput of `mode` (the least disturbed run)."""
        return max(self.per_second[mode], default=float("nan"))

    @property
    def drop(self) -> float:
        """Return the share of throughput the audit log costs (best run against best run)."""
        return 1 - self.best("on") / self.best("off")

    @property
    def median_drop(self) -> float:
        """Return the same by the median runs (less kind to a lucky run)."""
        return 1 - median(self.per_second["on"]) / median(self.per_second["off"])


def lifecycle(result: Result, url: str | None, options: Options, console: Console) -> None:
    """Time restricted incidents declare → resolve, audit off and on, interleaved."""
    # off, on, on, off, off, on: each mode as often first as second, so a machine that slows
    # down (or warms up) over the runs does not favour either.
    order = [mode for i in range(RUNS) for mode in (("off", "on") if i % 2 == 0 else ("on", "off"))]
    for mode in order:
        with tempfile.TemporaryDirectory(prefix="warroom-bench-audit-") as tmp:
            root = Path(tmp)
            env, settings = server_folder(root, url)
            env["WARROOM_BENCH_AUDIT"] = mode
            env["PYTHONPATH"] = str(REPO_ROOT)  # the server runs bench.audit_server
            if url is not None:  # PostgreSQL: each run starts from an empty database
                _empty_postgres(url)
            runtime = build_runtime(settings, config=WarroomConfig.model_validate(bench_config()))
            token, _ = make_users(runtime)
            runtime.db.dispose()
            with serve(env, root, root / "server.log", module="bench.audit_server") as base:
                done = run_lifecycle(base, token, options, settings.runbooks_dir, "security")
        result.per_second[mode].append(done.per_second)
        console.print(f"  audit {mode}: {done.per_second:.1f} incidents/s")


def _empty_postgres(url: str) -> None:
    """Leave the scratch database as a freshly migrated one is (if it is migrated yet)."""
    from sqlalchemy import create_engine, inspect, text

    from warroom.migrations.registry import Base

    engine = create_engine(url)
    if inspect(engine).has_table("audit_head"):
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as connection:
            # The audit log refuses TRUNCATE by trigger: a scratch database may start over.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            connection.execute(text(f"INSERT INTO audit_head VALUES (1, 0, '{GENESIS}')"))
    engine.dispose()


def seed_entries(db: Database, count: int, progress: Callable[[int], None]) -> None:
    """Write `count` chained entries straight into the log, as warroom would have."""
    prev, at = GENESIS, datetime(2026, 1, 1, tzinfo=UTC)
    actions = ("incident.access", "signin", "action.run", "token.create", "report.export")
    seq = 0
    while seq < count:
        rows = []
        for _ in range(min(SEED_BATCH, count - seq)):
            seq += 1
            fields = hashed_fields(
                seq=seq,
                at=at + timedelta(milliseconds=seq),
                actor=f"user{seq % 50}",
                client="10.0.0.7",
                action=actions[seq % len(actions)],
                target=f"INC-{seq % 5000}",
                outcome="ok" if seq % 17 else "denied",
                details={"request": f"GET /api/v1/incidents/INC-{seq % 5000}", "n": seq},
            )
            digest = entry_hash(prev, fields)
            rows.append(
                dict(fields, at=at + timedelta(milliseconds=seq), prev_hash=prev, hash=digest)
            )
            prev = digest
        with db.write_engine.begin() as connection:
            connection.execute(insert(AuditEntry), rows)
        progress(len(rows))
    with db.write_engine.begin() as connection:
        connection.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


def verification(result: Result, url: str | None, entries: int, console: Console) -> None:
    """Seed `entries` into a fresh database and time a full verify."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-verify-") as tmp:
        root = Path(tmp)
        _env, settings = server_folder(root, url)
        if url is not None:
            _empty_postgres(url)
        runtime = build_runtime(settings, config=WarroomConfig.model_validate(bench_config()))
        started = time.perf_counter()
        with Progress(transient=True, console=console) as bar:
            task = bar.add_task(f"seeding {entries:,} entries", total=entries)
            seed_entries(runtime.db, entries, lambda n: bar.advance(task, n))
        result.seed_seconds = time.perf_counter() - started
        runtime.db.dispose()
        db = Database(settings.resolved_database_url())
        started = time.perf_counter()
        verdict = verify(db)
        result.verify_seconds = time.perf_counter() - started
        db.dispose()
        if not verdict.ok:
            raise RuntimeError(f"the seeded log does not verify: {verdict.reason}")
        result.entries, result.verified = entries, verdict.checked
        console.print(f"  verify: {entries:,} entries in {result.verify_seconds:.2f} s")


def run_backend(name: str, options: Options, entries: int, console: Console) -> Result:
    """Measure one backend, or say why it was skipped."""
    result = Result(name=name)
    console.rule(name)
    if name == "SQLite":
        lifecycle(result, None, options, console)
        verification(result, None, entries, console)
        return result
    try:
        with scratch_postgres(options.postgres_url) as (url, version):
            result.name = f"PostgreSQL {version}"
            lifecycle(result, url, options, console)
            verification(result, url, entries, console)
    except Unreachable as exc:
        result.skipped = str(exc)
        console.print(f"[yellow]skipped:[/] {exc}")
    return result


def render(results: list[Result], options: Options, entries: int, argv: list[str]) -> str:
    """Return the docs/benchmarks.md section."""
    machine = machine_info()
    rows = []
    for r in results:
        if r.skipped:
            rows.append([r.name, "skipped", r.skipped, "", "", ""])
            continue
        off = " / ".join(f"{v:.1f}" for v in r.per_second["off"])
        on = " / ".join(f"{v:.1f}" for v in r.per_second["on"])
        met = "yes" if r.drop < TARGET_DROP else "**no**"
        rows.append([r.name, off, on, f"{r.drop:.1%}", f"{r.median_drop:.1%}", met])
    verify_rows = [
        [
            r.name,
            f"{r.verified:,}",
            f"{r.seed_seconds:.1f}",
            f"{r.verify_seconds:.2f}",
            f"{r.verified / r.verify_seconds:,.0f}" if r.verify_seconds else "",
            "yes" if r.verify_seconds < TARGET_VERIFY_S else "**no**",
        ]
        for r in results
        if not r.skipped
    ]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "## Audit log",
            "",
            f"Measured {when} on {machine['CPU']} ({machine['Cores']} cores, "
            f"{machine['Memory']}), {machine['OS']}, Python {machine['Python']}, "
            f"SQLite {machine['SQLite']}: `{command_line('bench.audit', argv)}`.",
            "",
            f"**Declare → resolve with the audit log on and off** ({options.incidents} restricted "
            f"incidents per run, {options.clients} concurrent clients, through `warroom serve`; "
            "every request on a restricted incident writes an `incident.access` entry, so this "
            "is the most the log adds). Incidents per second, each run, in the order off, on, on, "
            "off, off, on; the drop compares the best of each, the median drop the medians. "
            f"Target: a drop under {TARGET_DROP:.0%}.",
            "",
            markdown_table(
                ("Backend", "audit off (/s)", "audit on (/s)", "drop", "median drop", "target met"),
                rows,
            ),
            "",
            f"**`warroom audit verify`** over a seeded chain. Target: {entries:,} entries in "
            f"under {TARGET_VERIFY_S:.0f} s.",
            "",
            markdown_table(
                ("Backend", "entries", "seeding (s)", "verify (s)", "entries/s", "target met"),
                verify_rows,
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the audit benchmark and record it in docs/benchmarks.md."""
    args_list = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="bench.audit", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A smaller run (CI smoke).")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--no-write", action="store_true", help="Do not update the docs page.")
    parser.add_argument(
        "--entries", type=int, help="How many entries verify checks (default 1,000,000)."
    )
    parser.add_argument(
        "--postgres-url", default=os.environ.get("WARROOM_BENCH_POSTGRES", DEFAULT_POSTGRES_URL)
    )
    args = parser.parse_args(args_list)
    incidents = 40 if args.quick else 300
    entries = args.entries or (20_000 if args.quick else 1_000_000)
    options = Options(
        incidents=incidents,
        clients=8,
        stored=0,
        requests=0,
        warmup=0,
        backends=tuple(args.backend or ("sqlite", "postgresql")),
        write=not args.no_write,
        postgres_url=args.postgres_url,
    )
    console = Console()
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    results = [run_backend(names[b], options, entries, console) for b in options.backends]
    section = render(results, options, entries, args_list)
    console.print(section)
    if options.write and not args.quick:
        write_section(DOCS_PAGE, "audit", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
