"""Alert storm: many new groups at once, each opening an incident, through `warroom serve`.

Issue 17, item 3: on SQLite with one process, 10,000 alerts arriving in 1,000 new groups
all become durable incidents, each delivery answered with p99 < 1 s, at ≥ 500 new incidents
per second; and nobody is paged a thousand times (the storm's pages are bundled under one
parent incident). Alertmanager sends one webhook per group, so each request here is one new
group of `--alerts` alerts. Pages go to a loopback Slack receiver (bench/receiver.py).
`--floor` sends the same storm to bench/ceiling.py's `storm` app too: the least durable work a
new incident needs, in Python on the same stack (raw sqlite3, one writer thread), with and
without its runbook file: how far any Python intake in one process gets on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from bench.common import (
    LOOPBACK,
    REPO_ROOT,
    Stats,
    command_line,
    free_port,
    machine_info,
    markdown_table,
    without_search_index,
    write_section,
)
from bench.common import warroom_server as serve
from bench.incidents import TEMPLATES
from bench.intake import cpu_seconds, wait_listening
from bench.receiver import TOKEN as SLACK_TOKEN
from bench.receiver import Receiver
from bench.soak import server_pid

TOKEN = "storm-intake-token-0123456789"
TARGET_RATE = 500.0  # new incidents per second
TARGET_P99 = 1.0  # seconds


@dataclass
class Outcome:
    """One storm: what was sent, how fast it was taken, and what the database holds after."""

    label: str
    groups: int
    alerts: int
    seconds: float
    latency: Stats
    errors: int
    incidents: int
    children: int
    parents: int
    stored_alerts: int
    pages: int
    cpu_ms: float = 0.0  # the server's CPU (user + system) per new incident, while sending
    client_ms: float = 0.0  # this process's (the client's) CPU per new incident

    @property
    def rate(self) -> float:
        """New incidents per second, first request sent to last answer."""
        return self.groups / self.seconds

    @classmethod
    def of(
        cls,
        label: str,
        options: argparse.Namespace,
        sent: Sent,
        counted: tuple[int, int, int, int],
        pages: int,
    ) -> Outcome:
        """Put one run together: what `send_measured` saw and what the database holds."""
        incidents, children, parents, stored = counted
        return cls(
            label,
            options.groups,
            options.groups * options.alerts,
            sent.seconds,
            Stats.of(sent.latencies),
            sent.errors,
            incidents,
            children,
            parents,
            stored,
            pages,
            1000 * sent.server_cpu / options.groups,
            1000 * sent.client_cpu / options.groups,
        )


def config(receiver: Receiver, storms: bool) -> dict[str, Any]:
    """Every group opens a SEV-2 incident on checkout that pages #pages."""
    document: dict[str, Any] = {
        "services": [{"id": "checkout", "escalation": "storm"}],
        "escalation_policies": [
            {"id": "storm", "steps": [{"after": "0m", "notify": ["channel:#pages"]}]}
        ],
        "routes": [
            {
                "match": ['service="checkout"'],
                "service": "checkout",
                "severity": "SEV-2",
                "group_by": ["alertname"],
            }
        ],
        "integrations": {
            "alertmanager": [{"name": "storm", "token": TOKEN}],
            "slack": {
                "signing_secret": "s" * 32,
                "bot_token": SLACK_TOKEN,
                "base_url": receiver.url,
            },
        },
        "notifications": {
            "incident_channels": False,
            "rate_limits": {"channel": {"count": 1_000_000, "per": "1s"}},
        },
    }
    if not storms:
        document["detection"] = {"storm": {"enabled": False}}
    return document


def webhook(group: int, alerts: int) -> bytes:
    """One Alertmanager webhook: a new group of `alerts` firing alerts."""
    now = datetime.now(UTC).isoformat()
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": f'{{}}:{{alertname="Storm{group}"}}',
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": f"Storm{group}"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": f"http://{LOOPBACK}:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": f"Storm{group}",
                    "service": "checkout",
                    "instance": f"i{index}",
                },
                "annotations": {"summary": f"Storm {group} on i{index}"},
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://{LOOPBACK}:9090/graph",
                "fingerprint": f"{group:08x}{index:08x}",
            }
            for index in range(alerts)
        ],
    }
    return json.dumps(body).encode()


async def send_all(
    base_url: str, groups: int, alerts: int, connections: int
) -> tuple[float, list[float], int]:
    """Send every group's webhook with `connections` in flight; return time, latencies, errors."""
    bodies = [webhook(group, alerts) for group in range(groups)]
    latencies: list[float] = []
    errors = 0
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=60, trust_env=False
    ) as http:

        async def worker() -> None:
            nonlocal errors
            for body in queue:
                began = time.perf_counter()
                response = await http.post("/api/v1/intake/alertmanager", content=body)
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return time.perf_counter() - started, latencies, errors


@dataclass
class Sent:
    """What sending one storm took: time, answers, and the CPU of both ends meanwhile."""

    seconds: float
    latencies: list[float]
    errors: int
    server_cpu: float
    client_cpu: float


def send_measured(base_url: str, pid: int, options: argparse.Namespace) -> Sent:
    """Send the storm, measuring the server's and this process's CPU time around it."""
    send = send_all_raw if options.client == "raw" else send_all
    server, client = cpu_seconds(pid), time.process_time()
    seconds, latencies, errors = asyncio.run(
        send(base_url, options.groups, options.alerts, options.connections)
    )
    return Sent(
        seconds,
        latencies,
        errors,
        cpu_seconds(pid) - server,
        time.process_time() - client,
    )


async def send_all_raw(
    base_url: str, groups: int, alerts: int, connections: int
) -> tuple[float, list[float], int]:
    """`send_all` over bare asyncio streams (HTTP/1.1 keep-alive, requests built up front).

    httpx spends a few milliseconds of CPU a request here, on the same two cores as the
    server: against a server that needs less, the client would set the rate.
    """
    host, port = base_url.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/intake/alertmanager HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
    ).encode()
    queue = iter(
        [
            head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            for body in (webhook(group, alerts) for group in range(groups))
        ]
    )
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for request in queue:
                began = time.perf_counter()
                writer.write(request)
                status = (await reader.readline()).split(b" ", 2)[1]
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - began)
                errors += status != b"200"
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return time.perf_counter() - started, latencies, errors


def count(database: Path) -> tuple[int, int, int, int]:
    """Return (incidents, children, parents, alerts) from the server's SQLite file."""
    with sqlite3.connect(database) as db:
        incidents = db.execute("SELECT count(*) FROM incidents").fetchone()[0]
        columns = {row[1] for row in db.execute("PRAGMA table_info(incidents)")}
        if "parent_number" in columns:
            children = db.execute(
                "SELECT count(*) FROM incidents WHERE parent_number IS NOT NULL"
            ).fetchone()[0]
            parents = db.execute(
                "SELECT count(DISTINCT parent_number) FROM incidents"
                " WHERE parent_number IS NOT NULL"
            ).fetchone()[0]
        else:
            children = parents = 0
        alerts = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
    return incidents, children, parents, alerts


def cpu_per_incident(groups: int, alerts: int, storms: bool) -> float:
    """Return the milliseconds of CPU a new incident costs in process, without HTTP.

    The intake is driven directly (`IntakeFlows.submit`, 32 deliveries in flight as over
    HTTP), on a fresh SQLite database; process CPU time, so other load on the machine
    matters less than it does to the rate. One core divided by it is the ceiling of one
    process, whatever the HTTP server does.
    """
    from concurrent.futures import wait

    from warroom.app import build_runtime
    from warroom.detection.sources import alertmanager
    from warroom.settings import Settings

    class _Nowhere:
        url = f"http://{LOOPBACK}:9"  # pages are planned, and never sent: no engine runs

    with tempfile.TemporaryDirectory(prefix="warroom-storm-cpu-") as tmp:
        workdir = Path(tmp)
        path = workdir / "warroom.yaml"
        path.write_text(yaml.safe_dump(config(_Nowhere(), storms)))  # type: ignore[arg-type]
        shutil.copytree(TEMPLATES, workdir / "runbooks" / "templates")
        settings = Settings(
            config=path,
            data_dir=workdir / "data",
            runbooks_dir=workdir / "runbooks",
            log_level="WARNING",
        )
        runtime = build_runtime(settings)
        try:
            bodies = [alertmanager.parse(webhook(g, alerts)) for g in range(groups)]
            warm, measured = bodies[:20], bodies[20:]
            submit = runtime.intake.submit
            wait([submit(source="alertmanager", integration="storm", alerts=b) for b in warm])
            began = time.process_time()
            futures = []
            for index, body in enumerate(measured):
                futures.append(submit(source="alertmanager", integration="storm", alerts=body))
                if index % 32 == 31:
                    wait(futures[-32:])
            wait(futures)
            spent = time.process_time() - began
            assert all(f.exception() is None for f in futures)
        finally:
            runtime.intake.close()
            runtime.close()
    return 1000 * spent / len(measured)


def run(
    label: str,
    options: argparse.Namespace,
    storms: bool,
    console: Console,
    *,
    search_index: bool = True,
) -> Outcome:
    """Start a fresh server, send the storm, wait for the pages, count what was kept
    (without the full-text index's triggers when `search_index` is False)."""
    with tempfile.TemporaryDirectory(prefix="warroom-storm-") as tmp:
        workdir = Path(tmp)
        with Receiver(workdir / "arrivals.log") as receiver:
            path = workdir / "warroom.yaml"
            path.write_text(yaml.safe_dump(config(receiver, storms)))
            shutil.copytree(TEMPLATES, workdir / "runbooks" / "templates", dirs_exist_ok=True)
            env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
            env |= {
                "WARROOM_DATA_DIR": str(workdir / "data"),
                "WARROOM_RUNBOOKS_DIR": str(workdir / "runbooks"),
                "WARROOM_CONFIG": str(path),
                "WARROOM_LOG_LEVEL": "WARNING",
            }
            with serve(env, workdir, workdir / "server.log") as base_url:
                if not search_index:
                    without_search_index(None, workdir / "data" / "warroom.db")
                sent = send_measured(base_url, server_pid(base_url), options)
                # The pages go out after the answers: give the sender time to finish.
                deadline = time.monotonic() + options.settle
                while time.monotonic() < deadline:
                    time.sleep(1)
                    receiver.poll()
            counted = count(workdir / "data" / "warroom.db")
            incidents, children, parents, stored = counted
            outcome = Outcome.of(label, options, sent, counted, receiver.count)
            console.print(
                f"  {label}: {outcome.rate:,.0f} new incidents/s, p99 "
                f"{outcome.latency.p99:.0f} ms, {incidents} incidents "
                f"({parents} storm parents, {children} linked), {stored} alerts, "
                f"{receiver.count} pages, {sent.errors} errors; {_cpu(outcome)}"
            )
            return outcome


def run_floor(label: str, options: argparse.Namespace, files: bool, console: Console) -> Outcome:
    """Start bench.ceiling's `storm` app on a fresh SQLite file, send the storm, count."""
    with tempfile.TemporaryDirectory(prefix="warroom-floor-") as tmp:
        port = free_port()
        command = [sys.executable, "-m", "bench.ceiling", "storm", str(port), tmp]
        env = os.environ | {"BENCH_STORM_TOKEN": TOKEN}
        flags = [] if files else ["--no-files"]
        process = subprocess.Popen([*command, *flags], env=env, cwd=REPO_ROOT)
        base_url = f"http://{LOOPBACK}:{port}"
        try:
            wait_listening(base_url)
            sent = send_measured(base_url, process.pid, options)
        finally:
            process.terminate()
            process.wait(timeout=20)
        incidents, _, _, stored = count(Path(tmp) / "floor.db")
        written = len(list((Path(tmp) / "active").glob("INC-*.md")))
    outcome = Outcome.of(label, options, sent, (incidents, 0, 0, stored), 0)
    console.print(
        f"  {label}: {outcome.rate:,.0f} new incidents/s, p99 {outcome.latency.p99:.0f} ms, "
        f"{incidents} incidents, {stored} alerts, {written} files, {sent.errors} errors; "
        f"{_cpu(outcome)}"
    )
    return outcome


def _cpu(outcome: Outcome) -> str:
    return (
        f"CPU per incident: server {outcome.cpu_ms:.2f} ms, client {outcome.client_ms:.2f} ms"
        f" ({outcome.cpu_ms * outcome.rate / 1000:.2f} cores busy in the server)"
    )


def median(outcomes: list[Outcome]) -> Outcome:
    """The run of median rate (its p99 with it, not a median of p99s)."""
    return sorted(outcomes, key=lambda o: o.rate)[len(outcomes) // 2]


def main(argv: list[str] | None = None) -> int:
    """Run the storm with bundling on (and off, for comparison) and record it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=1000, help="new groups (= webhooks)")
    parser.add_argument("--alerts", type=int, default=10, help="alerts per group")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--settle", type=float, default=10, help="seconds to wait for pages")
    parser.add_argument("--storms", choices=("on", "off", "both"), default="both")
    parser.add_argument(
        "--floor", action="store_true", help="also the floor app (bench/ceiling.py storm)"
    )
    parser.add_argument(
        "--client", choices=("httpx", "raw"), default="httpx", help="raw: see send_all_raw"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each, alternating; the median is kept"
    )
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    options = parser.parse_args(argv)
    if min(options.groups, options.alerts, options.connections, options.rounds) < 1:
        parser.error("--groups, --alerts, --connections and --rounds must be at least 1")
    console = Console()
    modes = {"on": [True], "off": [False], "both": [True, False]}[options.storms]
    plans: dict[str, Any] = {
        f"bundling {'on' if on else 'off'}": lambda label, on=on: run(label, options, on, console)
        for on in modes
    }
    if options.floor:
        plans |= {
            "floor, files": lambda label: run_floor(label, options, True, console),
            "floor, no files": lambda label: run_floor(label, options, False, console),
        }
    # Alternating, so a burst of other work on the machine falls on all of them alike.
    runs: dict[str, list[Outcome]] = {label: [] for label in plans}
    for _ in range(options.rounds):
        for label, plan in plans.items():
            runs[label].append(plan(label))
    outcomes = [median(found) for found in runs.values()]
    cpu = cpu_per_incident(min(options.groups, 600), options.alerts, modes[0])
    console.print(
        f"  in process, without HTTP: {cpu:.2f} ms of CPU per new incident "
        f"(one core: at most {1000 / cpu:,.0f} new incidents/s)"
    )
    if options.no_write:
        return 0
    floor = [o for o in outcomes if o.label.startswith("floor")]
    rows = [
        [
            o.label,
            f"{o.groups:,}",
            f"{o.alerts:,}",
            f"{o.seconds:.2f}",
            f"{o.rate:,.0f}",
            f"{o.latency.p50:.0f}",
            f"{o.latency.p99:.0f}",
            f"{o.cpu_ms:.2f}",
            f"{o.client_ms:.2f}",
            f"{o.incidents:,}",
            "—" if o in floor else f"{o.parents}",
            "—" if o in floor else f"{o.pages:,}",
            str(o.errors),
        ]
        for o in outcomes
    ]
    table = markdown_table(
        [
            "storms",
            "groups",
            "alerts",
            "seconds",
            "new incidents/s",
            "p50 (ms)",
            "p99 (ms)",
            "server CPU per incident (ms)",
            "client CPU per incident (ms)",
            "incidents kept",
            "storm parents",
            "pages",
            "errors",
        ],
        rows,
    )
    first = outcomes[0]
    verdict = (
        f"- {first.rate:,.0f} new incidents/s (target ≥ {TARGET_RATE:,.0f}), p99 "
        f"{first.latency.p99:.0f} ms (target < {TARGET_P99 * 1000:.0f} ms) — "
        + (
            "met"
            if first.rate >= TARGET_RATE and first.latency.p99 < TARGET_P99 * 1000
            else "**not met**"
        )
    )
    info = machine_info()
    client = (
        "an httpx client"
        if options.client == "httpx"
        else "a bare asyncio client (`--client raw`: httpx's own CPU, a few milliseconds a "
        "request, would share the two cores with the server)"
    )
    body = (
        "## Alert storm\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['CPU']} "
        f"({info['Cores']} cores), SQLite {info['SQLite']}, one `warroom serve`: "
        f"`{command_line('bench.storm', sys.argv[1:] if argv is None else argv)}`.\n\n"
        f"{options.groups:,} Alertmanager webhooks, each a new group of {options.alerts} alerts "
        f"(so a new incident), sent with {options.connections} in flight by {client} on "
        "the same machine; every incident pages a Slack channel (a loopback receiver). The "
        "rate counts from the first request to the last answer; every answer comes after the "
        "commit. Then the SQLite file is counted. The CPU of the server (user + system, from "
        "/proc) and of the client is counted while the storm is sent"
        + (
            f"; each row is the run of median rate of {options.rounds}, alternating"
            if options.rounds > 1
            else ""
        )
        + f".\n\n{table}\n\n{verdict}\n\n"
        f"The ceiling of one process: in process, without HTTP, a new incident costs "
        f"**{cpu:.2f} ms of CPU** ({min(options.groups, 600) - 20} new groups driven straight "
        f"into the intake, storms {'on' if modes[0] else 'off'}; process CPU time), so one "
        f"core makes at most {1000 / cpu:,.0f} new incidents a second before HTTP, the engine "
        "and the sender take their share (docs/adr/014-alert-storms.md).\n"
        + (floor_paragraph(floor, options.client) if floor else "")
    )
    write_section(Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md", "storm", body)
    return 0


def floor_paragraph(floor: list[Outcome], client: str) -> str:
    """Say what the floor rows are and what they show against the target."""
    files = floor[0]  # the one that does what warroom does

    def met(o: Outcome) -> str:
        return "meets" if o.rate >= TARGET_RATE and o.latency.p99 < TARGET_P99 * 1000 else "misses"

    return (
        "\nThe floor rows (`--floor`): the same storm sent to bench/ceiling.py's `storm` app, "
        "one uvicorn process with a FastAPI route that checks the token, parses and checks the "
        "webhook (orjson) and hands it to one writer thread. The thread commits each drain of "
        "its queue in one `BEGIN IMMEDIATE` transaction on raw `sqlite3` with warroom's pragmas "
        "(WAL, `synchronous=FULL`), one `executemany` per table: the rows warroom writes for a "
        "new incident (the incident, its group, its 10 alerts with labels, annotations and raw "
        "JSON, 12 timeline events, 8 checklist items, the counter). Then the runbook file is "
        "written (temporary name, fsync, rename; 4 threads) and the answer sent; `no files` "
        "skips it. No routing, silences, storms, planner, search index or engine: the least "
        "any Python intake on this stack must do for a durable new incident. With the file, "
        f"as warroom does, it {met(files)} the target ({files.rate:,.0f} new incidents/s, p99 "
        f"{files.latency.p99:.0f} ms, {files.cpu_ms:.2f} ms of server CPU each); "
        + "; ".join(
            f"{o.label}: {o.rate:,.0f}/s, p99 {o.latency.p99:.0f} ms, {o.cpu_ms:.2f} ms"
            for o in floor[1:]
        )
        + (
            ". With httpx as the client its CPU, not the floor's, sets these rates: see "
            "`--client raw`.\n"
            if client == "httpx"
            else ".\n"
        )
    )


if __name__ == "__main__":
    raise SystemExit(main())
