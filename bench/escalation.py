"""Escalation and outbox: lateness with 10,000 incidents escalating at once, outbox throughput,
and alert-to-first-page latency through a real `warroom serve`.

Pages go to a lean loopback Slack receiver (bench/receiver.py) over HTTP, through warroom's
real Slack adapter (slack_sdk). Lateness is measured from the moment a step was due: to the
engine writing the page into the outbox, and to the page being delivered.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from bench.common import (
    REPO_ROOT,
    Stats,
    machine_info,
    markdown_table,
    write_section,
)
from bench.common import warroom_server as serve
from bench.incidents import TEMPLATES, Unreachable, scratch_postgres
from bench.lateness import CHANNELS, Lateness, measure_lateness
from bench.receiver import TOKEN, Receiver

LIMITS = """What limits it: each engine is one Python process. A tick claims up to 2,500 due
steps with their incidents in one query (`FOR UPDATE SKIP LOCKED` on PostgreSQL: what one
engine holds, the other skips), works out the pages in Python, and writes the pages, the
timeline lines and the escalations' new positions with one statement each (PostgreSQL: every
column as one binary array, expanded by `unnest`; SQLite: executemany) before it commits.
Other writers wait at most a few hundred milliseconds for SQLite's write lock. One engine on
PostgreSQL spends about half of the time in Python and half waiting for the server; with two,
each takes half of the batches and the two cores do both at once, so the last page is in the
outbox about twice as soon. An engine that finds every due step held by the other waits 50 ms
before it looks again (not a busy loop), and its sender starts meanwhile. Sending waits while
an engine's own due steps remain. Delivery is bounded by the interpreter: slack_sdk over
kept-alive connections costs about 0.17 ms of CPU a message, the sender's rounds as much
again (the sender alone: see "Delivery to Slack"); two engines send about twice as fast. A page
is never lost or sent twice meanwhile: the outbox holds it."""


def alert_config(receiver: Receiver) -> dict[str, Any]:
    """One service whose primary on call (alice) is paged by Slack DM for every new alert."""
    return {
        "people": [{"id": "alice", "name": "Alice", "slack": "UALICE01"}],
        "teams": [{"id": "ops", "members": ["alice"], "leads": ["alice"]}],
        "schedules": [
            {
                "id": "ops",
                "timezone": "UTC",
                "layers": [
                    {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}}
                ],
            }
        ],
        "services": [{"id": "checkout", "team": "ops", "schedule": "ops"}],
        "routes": [
            {
                "match": ['service="checkout"'],
                "service": "checkout",
                "severity": "SEV-1",
                "group_by": ["alertname"],
            }
        ],
        # Each alert opens an incident that pages on its own: storms are bench.storm's.
        "detection": {"storm": {"enabled": False}},
        "integrations": {
            "alertmanager": [{"name": "bench", "token": "bench-token-0123456789"}],
            "slack": {"signing_secret": "s" * 32, "bot_token": TOKEN, "base_url": receiver.url},
        },
        "notifications": {
            "incident_channels": False,
            "rate_limits": {
                "person": {"count": 1_000_000, "per": "1s"},
                "channel": {"count": 1_000_000, "per": "1s"},
            },
        },
    }


def measure_alert_to_page(
    backend: str, url: str | None, alerts: int, workdir: Path, console: Console
) -> Stats:
    """Post alerts one at a time to a real server; time each until its page arrives."""
    with Receiver(workdir / "page-arrivals.log") as receiver:
        config_path = workdir / "alert.yaml"
        config_path.write_text(yaml.safe_dump(alert_config(receiver)))
        shutil.copytree(TEMPLATES, workdir / "runbooks" / "templates", dirs_exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
        env |= {
            "WARROOM_DATA_DIR": str(workdir / "alert-data"),
            "WARROOM_RUNBOOKS_DIR": str(workdir / "runbooks"),
            "WARROOM_CONFIG": str(config_path),
            "WARROOM_LOG_LEVEL": "WARNING",
        }
        if url is not None:
            env["WARROOM_DATABASE_URL"] = url
        timings = []
        with (
            serve(env, workdir, workdir / "alert-server.log") as base_url,
            httpx.Client(
                base_url=base_url,
                headers={"Authorization": "Bearer bench-token-0123456789"},
                trust_env=False,
            ) as http,
        ):
            for index in range(alerts + 5):  # the first five warm up
                body = {
                    "version": "4",
                    "status": "firing",
                    "receiver": "warroom",
                    "groupKey": f'{{}}:{{alertname="Bench{index}"}}',
                    "alerts": [
                        {
                            "status": "firing",
                            "labels": {"alertname": f"Bench{index}", "service": "checkout"},
                            "annotations": {"summary": "CPU high"},
                            "startsAt": datetime.now(UTC).isoformat(),
                            "endsAt": "0001-01-01T00:00:00Z",
                            "fingerprint": f"{index:016x}",
                        }
                    ],
                }
                started = time.monotonic()
                answer = http.post("/api/v1/intake/alertmanager", json=body)
                answer.raise_for_status()
                number = answer.json()["incidents_opened"][0].removeprefix("INC-")
                key = f"inc{number}:page:0:0:alice:chat"
                arrived = receiver.arrival(key, timeout=10)
                if arrived is None:
                    raise RuntimeError(f"no page for INC-{number} within 10 s")
                if index >= 5:
                    timings.append(arrived - started)
        console.print(f"  {backend}: alert → first page over {alerts} alerts")
    return Stats.of(timings)


def main(argv: list[str] | None = None) -> int:
    """Run the escalation benchmarks and record them in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument(
        "--engines",
        default="1,2",
        help="how many `warroom engine` processes share the PostgreSQL runs, comma-separated "
        "(SQLite runs one: it has one writer)",
    )
    parser.add_argument("--lateness-only", action="store_true", help="skip alert to first page")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    options = parser.parse_args(argv)
    console = Console()
    started = time.monotonic()
    late: list[Lateness] = []
    to_page: list[tuple[str, Stats]] = []
    notes: list[str] = []
    pg_version = None
    with tempfile.TemporaryDirectory(prefix="warroom-escalation-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
        if options.backend in ("sqlite", "all"):
            (root / "sqlite").mkdir()
            late.append(
                measure_lateness(
                    "SQLite",
                    f"sqlite:///{root / 'sqlite' / 'late.db'}",
                    options.incidents,
                    root / "sqlite",
                    console,
                    engines=1,
                    env=env,
                )
            )
            if not options.lateness_only:
                to_page.append(
                    (
                        "SQLite",
                        measure_alert_to_page(
                            "SQLite", None, options.alerts, root / "sqlite", console
                        ),
                    )
                )
        if options.backend in ("postgresql", "all"):
            url = os.environ.get(
                "WARROOM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
            )
            try:
                for engines in [int(n) for n in options.engines.split(",")]:
                    with scratch_postgres(url) as (scratch, pg_version):
                        late.append(
                            measure_lateness(
                                "PostgreSQL",
                                scratch,
                                options.incidents,
                                root / f"pg-{engines}",
                                console,
                                engines=engines,
                                env=env,
                            )
                        )
                if not options.lateness_only:
                    (root / "pg").mkdir()
                    with scratch_postgres(url) as (scratch, pg_version):
                        to_page.append(
                            (
                                "PostgreSQL",
                                measure_alert_to_page(
                                    "PostgreSQL", scratch, options.alerts, root / "pg", console
                                ),
                            )
                        )
            except Unreachable as exc:
                notes.append(f"PostgreSQL skipped: {exc}")
    late_headers = (
        "Backend",
        "Engines",
        "Incidents",
        "due → outbox p50 (ms)",
        "p99 (ms)",
        "due → delivered p50 (ms)",
        "p99 (ms)",
        "max (ms)",
        "delivered/s",
        "repeats",
        "steps per engine",
    )
    late_rows = [
        [
            r.backend,
            str(r.engines),
            f"{r.incidents:,}",
            f"{r.written.p50:.0f}",
            f"{r.written.p99:.0f}",
            f"{r.delivered.p50:.0f}",
            f"{r.delivered.p99:.0f}",
            f"{r.delivered.max:.0f}",
            f"{r.per_second:,.0f}",
            str(r.repeats),
            r.split,
        ]
        for r in late
    ]
    page_headers = ("Backend", "Alerts", "p50 (ms)", "p99 (ms)", "max (ms)", "p99 ≤ 100 ms")
    page_rows = [
        [
            b,
            str(s.count),
            f"{s.p50:.1f}",
            f"{s.p99:.1f}",
            f"{s.max:.1f}",
            "yes" if s.p99 <= 100 else "no",
        ]
        for b, s in to_page
    ]
    lines = []
    for r in late:
        met = "met" if r.written.p99 <= 1000 else "**not met**"
        engines = f"{r.engines} engine" + ("s" if r.engines > 1 else "")
        lines.append(
            f"- {r.backend}, {engines}: escalation lateness p99 {r.written.p99 / 1000:.2f} s "
            f"(step due → page in the outbox; target ≤ 1 s) — {met}; delivered p99 "
            f"{r.delivered.p99 / 1000:.2f} s at {r.per_second:,.0f} messages/s"
        )
    for backend, stats in to_page:
        met = "met" if stats.p99 <= 100 else "**not met**"
        if backend == "SQLite":
            lines.append(
                f"- SQLite: alert-to-first-page p99 {stats.p99:.1f} ms (target ≤ 100 ms) — {met}"
            )
    console.print(markdown_table(late_headers, late_rows))
    console.print(markdown_table(page_headers, page_rows))
    for line in lines + notes:
        console.print(line)
    if options.no_write:
        return 0
    info = machine_info() | ({"PostgreSQL": pg_version} if pg_version else {})
    body = "\n".join(
        [
            "## Escalation and notifications (latest run)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "- Command: `.venv/bin/python -m bench.escalation`",
            "- Machine: " + "; ".join(f"{k}: {v}" for k, v in info.items()),
            f"- Total run time: {time.monotonic() - started:.0f} s",
            "",
            f"### {options.incidents:,} incidents escalating at once",
            "",
            f"{options.incidents:,} open SEV-1 incidents whose first escalation step falls due at "
            "the same instant (seeded straight into the database), taken by one or two "
            "`warroom engine` processes (each its tick loop and its sender; SQLite runs one, "
            f"having one writer), pages to {CHANNELS} Slack channels through warroom's Slack "
            "adapter (slack_sdk over HTTP) to a loopback receiver (its own process, uvicorn). "
            "*due → outbox* is the engines' lateness: from the step falling due to its page row "
            "being committed, as another connection sees it (it counts the outbox rows every "
            "5 ms; the k-th row to show is as late as the count's reaching k); *due → delivered* "
            "adds the send. *steps per engine* is each engine's own "
            "`warroom_escalation_steps_total` (its `/metrics` port).",
            "",
            markdown_table(late_headers, late_rows),
            "",
            "### Alert to first page",
            "",
            "`warroom serve` (one process, engine included); one Alertmanager webhook at a time, "
            "each a new alert group, so each opens an incident whose primary on call is paged by "
            "Slack DM. From sending the webhook to the DM arriving at the loopback receiver.",
            "",
            markdown_table(page_headers, page_rows),
            "",
            *lines,
            *[f"- {note}" for note in notes],
            "",
            LIMITS,
        ]
    )
    write_section(REPO_ROOT / "docs" / "benchmarks.md", "escalation", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
