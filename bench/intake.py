"""Intake throughput: alerts/s through warroom's Alertmanager and generic webhook intakes,
beside Alertmanager 0.25's own ingest (`/api/v2/alerts`) with the same batches, on one machine.

The load comes from wrk (a C load generator) so the client costs the same for both sides.
warroom is durable before it answers: SQLite `synchronous=FULL`, PostgreSQL defaults.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.common import (
    LOOPBACK,
    REPO_ROOT,
    free_port,
    machine_info,
    markdown_table,
    without_search_index,
    write_section,
)
from bench.common import warroom_server as serve
from bench.incidents import TEMPLATES, Unreachable, scratch_postgres
from bench.soak import server_pid

TOKEN = "bench-intake-token"
GROUPS = 10  # alerts spread over this many Alertmanager groups (so this many incidents)
REPEAT_POOL = 1000  # distinct alerts re-sent in the "repeated" runs
BATCHES = (1, 10, 100)
# Issue 17's restatement of issue 3's targets, on SQLite, new alerts joining open groups:
# at 100 per request against Alertmanager, at 1 per request against the bare FastAPI route.
TARGETS = {100: ("Alertmanager", 0.5), 1: ("the bare FastAPI route", 0.5)}
LIMITS = """What limits it: one warroom process is CPU-bound in Python, and Alertmanager
spreads Go over both cores and writes nothing to disk. Deliveries that arrive while a commit
is under way are ingested together in the next one (one run per integration): re-sent alerts
are counted with one `UPDATE`, new alerts of an open incident are inserted with one
statement, and one fsync covers them all. What is left per request is mostly HTTP handling
and parsing (about half a millisecond), which caps single-alert deliveries; `warroom serve
--workers 2` shares that between the cores when the load generator is elsewhere."""

CEILING = """Issue 3 asks, on SQLite, for warroom / Alertmanager ≥ 1.0 at one alert per
request and ≥ 2.0 at 100. At one alert per request a FastAPI route that only reads the body
reaches about a quarter of Alertmanager's rate here: the target lies beyond the framework
DESIGN.md chose before warroom parses or stores anything (a bare ASGI endpoint comes near
Alertmanager only while doing nothing at all). At 100 alerts per request the HTTP layer stops
mattering and the work per alert decides: twice Alertmanager's rate leaves a few microseconds
per alert for parsing, routing, deduplication and a durable write in one Python process.
See docs/adr/004-intake-throughput.md."""

LUA = r"""
-- Builds one request body per call; fingerprints are unique per thread and request
-- ("unique") or drawn from a fixed pool ("repeated").
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  thread_id = tonumber(wrk.thread:get("tid")) or 1
end
local function fp(n)
  return string.format("%016x", n)
end
function request()
  counter = counter + 1
  local items = {}
  for k = 1, BATCH do
    local n
    if MODE == "unique" then
      n = (thread_id * 100000000) + counter * BATCH + k
    else
      n = ((counter * BATCH + k) % POOL) + 1
    end
    items[k] = ALERT(n, fp(n))
  end
  local body = WRAP(table.concat(items, ","), counter)
  return wrk.format("POST", PATH, HEADERS, body)
end
"""

SHAPES = {
    # warroom's Alertmanager intake: the webhook v4 format Alertmanager itself sends
    "alertmanager": (
        r"""function(n, f) return '{"status":"firing","labels":{"alertname":"BenchCPU",'
  .. '"instance":"i' .. n .. '","service":"checkout","g":"' .. (n % GROUPS) .. '"},'
  .. '"annotations":{"summary":"CPU high on i'
  .. n .. '"},"startsAt":"2026-11-26T00:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",'
  .. '"generatorURL":"http://127.0.0.1:9090/graph","fingerprint":"' .. f .. '"}' end""",
        r"""function(items, c) return '{"version":"4","status":"firing","receiver":"warroom",'
  .. '"groupKey":"{}:{g=\\"' .. (c % GROUPS) .. '\\"}","truncatedAlerts":0,"groupLabels":{},'
  .. '"commonLabels":{},"commonAnnotations":{},"externalURL":"http://127.0.0.1:9093",'
  .. '"alerts":[' .. items .. ']}' end""",
    ),
    # warroom's generic webhook
    "webhook": (
        r"""function(n, f) return '{"title":"CPU high on i' .. n .. '","severity":"warning",'
  .. '"dedup_key":"' .. f .. '","labels":{"service":"checkout","g":"'
  .. (n % GROUPS) .. '"}}' end""",
        r"""function(items, c) return '[' .. items .. ']' end""",
    ),
    # Alertmanager's own API: a bare array of alerts, as Prometheus posts them
    "am-api": (
        r"""function(n, f) return '{"labels":{"alertname":"BenchCPU","instance":"i' .. n
  .. '","g":"' .. (n % GROUPS) .. '"},"annotations":{"summary":"CPU high"},'
  .. '"generatorURL":"http://127.0.0.1:9090/graph"}' end""",
        r"""function(items, c) return '[' .. items .. ']' end""",
    ),
}


@dataclass
class Run:
    """One wrk run."""

    target: str  # warroom-sqlite/alertmanager, …
    endpoint: str
    batch: int
    mode: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float = 0.0  # the server's CPU time per request (user + system), when measured

    @property
    def alerts_per_s(self) -> float:
        """Alerts accepted per second."""
        return self.requests_per_s * self.batch


def lua_script(shape: str, batch: int, mode: str, path: str, headers: dict[str, str]) -> str:
    """Return the wrk script for one scenario."""
    alert, wrap = SHAPES[shape]
    header_lua = "{" + ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items()) + "}"
    prelude = (
        f'BATCH = {batch}\nMODE = "{mode}"\nPOOL = {REPEAT_POOL}\nGROUPS = {GROUPS}\n'
        f'PATH = "{path}"\nHEADERS = {header_lua}\nALERT = {alert}\nWRAP = {wrap}\n'
    )
    return prelude + LUA


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, script: Path, seconds: int, connections: int) -> tuple[float, float, float, int]:
    """Run wrk; return (requests/s, p50 ms, p99 ms, non-2xx count)."""
    if not url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError(f"benchmarks only talk to {LOOPBACK}")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latencies = {m.group(1): float(m.group(2)) * _UNITS[m.group(3)] for m in _LATENCY.finditer(out)}
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return (
        rps,
        latencies.get("50", 0.0),
        latencies.get("99", 0.0),
        int(errors.group(1)) if errors else 0,
    )


@contextmanager
def alertmanager(workdir: Path) -> Iterator[str]:
    """Run Alertmanager 0.25 on loopback with a receiver that sends nothing."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise Unreachable("prometheus-alertmanager is not installed")
    port = free_port()
    config = workdir / "am.yml"
    config.write_text("route:\n  receiver: none\n  group_wait: 1h\nreceivers:\n  - name: none\n")
    url = f"http://{LOOPBACK}:{port}"
    with open(workdir / "am.log", "ab") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.path={workdir / 'am-data'}",
                f"--web.listen-address={LOOPBACK}:{port}",
                "--cluster.listen-address=",
                f"--web.external-url={url}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/-/ready", timeout=1, trust_env=False).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def warroom_config(path: Path) -> None:
    """Write a warroom.yaml with the two intakes the benchmark uses."""
    path.write_text(
        "integrations:\n"
        f"  alertmanager: [{{name: bench, token: {TOKEN}}}]\n"
        f"  webhook: [{{name: bench, token: {TOKEN}}}]\n"
        "routes:\n"
        "  - {match: ['service=\"checkout\"'], service: checkout, group_by: [g]}\n"
    )


def scenarios(shapes: tuple[str, ...]) -> Iterator[tuple[str, int, str]]:
    """Yield (shape, batch, mode) for every measured combination."""
    for shape in shapes:
        for batch in BATCHES:
            for mode in ("unique", "repeated"):
                yield shape, batch, mode


def measure_warroom(
    label: str,
    database_url: str | None,
    options: argparse.Namespace,
    console: Console,
    *,
    only: list[tuple[str, int, str]] | None = None,
    search_index: bool = True,
) -> list[Run]:
    """Start warroom on a fresh database and run every intake scenario against it (or those
    in `only`; without the full-text index's triggers when `search_index` is False)."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="warroom-intake-") as tmp:
        root = Path(tmp)
        shutil.copytree(TEMPLATES, root / "runbooks" / "templates")
        warroom_config(root / "warroom.yaml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
        env |= {
            "WARROOM_DATA_DIR": str(root / "data"),
            "WARROOM_RUNBOOKS_DIR": str(root / "runbooks"),
            "WARROOM_CONFIG": str(root / "warroom.yaml"),
            "WARROOM_LOG_LEVEL": "WARNING",
        }
        if database_url is not None:
            env["WARROOM_DATABASE_URL"] = database_url
        with serve(env, root, root / "server.log") as base_url:
            pid = server_pid(base_url)
            if not search_index:
                without_search_index(database_url, root / "data" / "warroom.db")
            for shape, batch, mode in only or scenarios(("alertmanager", "webhook")):
                path = f"/api/v1/intake/{shape}"
                headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
                script = root / f"{shape}-{batch}-{mode}.lua"
                script.write_text(lua_script(shape, batch, mode, path, headers))
                cpu_before, began = cpu_seconds(pid), time.monotonic()
                rps, p50, p99, errors = wrk(
                    base_url + path, script, options.seconds, options.connections
                )
                requests = rps * (time.monotonic() - began)
                cpu_ms = 1000 * (cpu_seconds(pid) - cpu_before) / max(requests, 1)
                run = Run(label, shape, batch, mode, rps, p50, p99, errors, cpu_ms)
                console.print(
                    f"  {label} {shape} ×{batch} {mode}: {run.alerts_per_s:,.0f} alerts/s"
                    f" (p99 {p99:.1f} ms{', ERRORS ' + str(errors) if errors else ''})"
                )
                runs.append(run)
    return runs


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure_ceiling(options: argparse.Namespace, console: Console) -> list[Run]:
    """Load bare Python endpoints (bench/ceiling.py) with the Alertmanager-shaped scripts."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="warroom-ceiling-") as tmp:
        for kind, label in (("raw", "bare ASGI on uvicorn"), ("fastapi", "bare FastAPI route")):
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.ceiling", kind, str(port)], cwd=REPO_ROOT
            )
            url = f"http://{LOOPBACK}:{port}"
            try:
                wait_listening(url)
                for batch in BATCHES:
                    script = Path(tmp) / f"{kind}-{batch}.lua"
                    path = "/api/v1/intake/alertmanager"
                    headers = {"Content-Type": "application/json"}
                    script.write_text(lua_script("alertmanager", batch, "unique", path, headers))
                    rps, p50, p99, errors = wrk(
                        url + path, script, options.seconds, options.connections
                    )
                    run = Run(label, "ceiling", batch, "unique", rps, p50, p99, errors)
                    console.print(f"  {label} ×{batch}: {run.alerts_per_s:,.0f} alerts/s")
                    runs.append(run)
            finally:
                process.terminate()
                process.wait(timeout=20)
    return runs


def wait_listening(url: str) -> None:
    """Wait until a server answers at `url` (any status)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(url + "/", content=b"{}", timeout=1, trust_env=False)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered at {url}")


def ceiling_rows(runs: list[Run]) -> list[list[str]]:
    """One row per bare endpoint and batch, beside Alertmanager's figure."""
    rows = []
    for run in (r for r in runs if r.endpoint == "ceiling"):
        base = _find(runs, "alertmanager", "api/v2/alerts", run.batch, "unique")
        rows.append(
            [
                run.target,
                str(run.batch),
                f"{run.alerts_per_s:,.0f}",
                f"{base.alerts_per_s:,.0f}" if base else "—",
                f"{run.alerts_per_s / base.alerts_per_s:.2f}" if base else "—",
            ]
        )
    return rows


CEILING_HEADERS = ("endpoint", "alerts/request", "alerts/s", "Alertmanager alerts/s", "÷ AM")


def measure_alertmanager(options: argparse.Namespace, console: Console) -> list[Run]:
    """Run the same batches against Alertmanager's own /api/v2/alerts."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="warroom-am-") as tmp, alertmanager(Path(tmp)) as url:
        for _, batch, mode in scenarios(("am-api",)):
            script = Path(tmp) / f"am-{batch}-{mode}.lua"
            script.write_text(
                lua_script(
                    "am-api", batch, mode, "/api/v2/alerts", {"Content-Type": "application/json"}
                )
            )
            rps, p50, p99, errors = wrk(
                url + "/api/v2/alerts", script, options.seconds, options.connections
            )
            run = Run("alertmanager", "api/v2/alerts", batch, mode, rps, p50, p99, errors)
            console.print(f"  Alertmanager ×{batch} {mode}: {run.alerts_per_s:,.0f} alerts/s")
            runs.append(run)
    return runs


def _find(runs: list[Run], target: str, endpoint: str, batch: int, mode: str) -> Run | None:
    return next(
        (
            r
            for r in runs
            if (r.target, r.endpoint, r.batch, r.mode) == (target, endpoint, batch, mode)
        ),
        None,
    )


def result_rows(runs: list[Run], labels: list[str]) -> list[list[str]]:
    """One row per warroom target, endpoint, batch and mode, with the ratio to Alertmanager."""
    rows = []
    for label in labels:
        for endpoint in ("alertmanager", "webhook"):
            for batch in BATCHES:
                for mode in ("unique", "repeated"):
                    run = _find(runs, label, endpoint, batch, mode)
                    base = _find(runs, "alertmanager", "api/v2/alerts", batch, mode)
                    if run is None:
                        continue
                    ratio = f"{run.alerts_per_s / base.alerts_per_s:.2f}" if base else "—"
                    rows.append(
                        [
                            label,
                            endpoint,
                            str(batch),
                            mode,
                            f"{run.alerts_per_s:,.0f}",
                            f"{run.p50_ms:.1f}",
                            f"{run.p99_ms:.1f}",
                            f"{base.alerts_per_s:,.0f}" if base else "—",
                            ratio,
                            f"{run.cpu_ms:.2f}",
                            str(run.errors),
                        ]
                    )
    return rows


HEADERS = (
    "warroom on",
    "intake",
    "alerts/request",
    "fingerprints",
    "alerts/s",
    "p50 (ms)",
    "p99 (ms)",
    "Alertmanager alerts/s",
    "warroom / AM",
    "server CPU (ms/request)",
    "non-2xx",
)


def verdicts(runs: list[Run]) -> list[str]:
    """Say whether issue 17's intake targets are met (SQLite, Alertmanager intake, unique)."""
    lines = []
    for batch, (name, target) in TARGETS.items():
        run = _find(runs, "SQLite", "alertmanager", batch, "unique")
        if name == "Alertmanager":
            base = _find(runs, "alertmanager", "api/v2/alerts", batch, "unique")
        else:
            base = _find(runs, "bare FastAPI route", "ceiling", batch, "unique")
        if run is None or base is None:
            continue
        ratio = run.alerts_per_s / base.alerts_per_s
        met = "met" if ratio >= target else "**not met**"
        cpu = f"; the server spent {run.cpu_ms:.2f} ms of CPU per request" if run.cpu_ms else ""
        lines.append(
            f"- SQLite, {batch} per request, new alerts joining open groups: warroom / {name} = "
            f"{ratio:.2f} (target ≥ {target}) — {met}{cpu}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the intake benchmark and record it in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=6, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    options = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    console = Console()
    started = time.monotonic()
    runs: list[Run] = []
    labels: list[str] = []
    notes: list[str] = []
    try:
        runs += measure_alertmanager(options, console)
    except Unreachable as exc:
        notes.append(f"Alertmanager skipped: {exc}")
    runs += measure_ceiling(options, console)
    if options.backend in ("sqlite", "all"):
        runs += measure_warroom("SQLite", None, options, console)
        labels.append("SQLite")
    pg_version = None
    if options.backend in ("postgresql", "all"):
        url = os.environ.get(
            "WARROOM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
        try:
            with scratch_postgres(url) as (scratch, pg_version):
                runs += measure_warroom("PostgreSQL", scratch, options, console)
                labels.append("PostgreSQL")
        except Unreachable as exc:
            notes.append(f"PostgreSQL skipped: {exc}")
    rows = result_rows(runs, labels)
    table = Table(*HEADERS, title="Intake throughput")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    lines = verdicts(runs)
    for line in lines + notes:
        console.print(line)
    elapsed = time.monotonic() - started
    if options.no_write:
        return 0
    info = machine_info() | ({"PostgreSQL": pg_version} if pg_version else {})
    body = "\n".join(
        [
            "## Intake (latest run)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "- Command: `.venv/bin/python -m bench.intake`",
            "- Machine: " + "; ".join(f"{k}: {v}" for k, v in info.items()),
            f"- Load: wrk, 2 threads, {options.connections} connections, {options.seconds} s per "
            f"run, on the same machine; total {elapsed:.0f} s",
            "",
            "warroom answers only after the alerts are durable (SQLite `synchronous=FULL`, "
            "PostgreSQL's defaults); concurrent deliveries share one commit (group commit). "
            f"Unique runs spread new alerts over {GROUPS} Alertmanager groups, so they join "
            f"{GROUPS} incidents; repeated runs re-send a pool of {REPEAT_POOL} alerts "
            "(deduplicated). Alertmanager 0.25 gets the same batches on `/api/v2/alerts` "
            "(in memory, no disk).",
            "",
            markdown_table(HEADERS, rows, text_columns=4),
            "",
            *lines,
            *[f"- {note}" for note in notes],
            "",
            LIMITS,
            "",
            "### The ceiling of the stack",
            "",
            "The same wrk scripts against Python endpoints that only read the body and answer "
            "(`bench/ceiling.py`, one uvicorn process with httptools and uvloop, as `warroom "
            "serve` runs): no parsing, no storage, no fsync. Any intake built on this stack "
            "stays below these figures on this machine.",
            "",
            markdown_table(CEILING_HEADERS, ceiling_rows(runs), text_columns=1),
            "",
            CEILING,
        ]
    )
    write_section(REPO_ROOT / "docs" / "benchmarks.md", "intake", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
