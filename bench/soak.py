"""Soak: `warroom serve` under a steady load for a long while; memory, files and latency over time.

Issue 17, item 9: 30 minutes at a steady alert rate with escalations and SSE clients running,
recording the server's resident memory (RSS), its open file descriptors and the alert
latency every sample period; memory must stay flat after warm-up (< 10 % growth). Writes
`docs/images/soak.svg` (three panels over time) and a section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import tracemalloc
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from bench.common import REPO_ROOT, command_line, machine_info, markdown_table, write_section
from bench.common import warroom_server as serve
from bench.incidents import TEMPLATES
from bench.receiver import TOKEN as SLACK_TOKEN
from bench.receiver import Receiver
from warroom.app import build_runtime
from warroom.auth import service as auth
from warroom.config import WarroomConfig
from warroom.settings import Settings

TOKEN = "soak-intake-token-0123456789"
GROWTH_LIMIT = 0.10
FRAMES_SHOWN = 12


@dataclass
class Sample:
    """One sample period: when, the server's memory and files, and the alerts' latency."""

    minute: float
    rss_mib: float
    fds: int
    p50_ms: float
    p99_ms: float
    alerts: int


def config(receiver: Receiver) -> dict[str, Any]:
    """Alerts on checkout open incidents that page #pages twice, a minute apart."""
    return {
        "people": [{"id": "alice", "name": "Alice", "slack": "UALICE01"}],
        "services": [{"id": "checkout", "escalation": "soak"}],
        "escalation_policies": [
            {
                "id": "soak",
                "steps": [
                    {"after": "0m", "notify": ["channel:#pages"]},
                    {"after": "1m", "notify": ["channel:#pages"]},
                ],
            }
        ],
        "routes": [
            {"match": ['service="checkout"'], "service": "checkout", "group_by": ["alertname"]}
        ],
        # 24 new incidents a minute, each paging twice, as measured: not bundled as a storm.
        "detection": {"storm": {"enabled": False}},
        "integrations": {
            "alertmanager": [{"name": "soak", "token": TOKEN}],
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


def alert(group: int, index: int) -> dict[str, Any]:
    """One firing alert of a group (a new group opens a new incident)."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": f'{{}}:{{alertname="Soak{group}"}}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": f"Soak{group}", "service": "checkout", "i": str(index)},
                "annotations": {"summary": "CPU high"},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{group:08x}{index:08x}",
            }
        ],
    }


def server_pid(base_url: str) -> int:
    """Return the pid of the process listening on the server's port."""
    port = int(base_url.rsplit(":", 1)[1])
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    raise RuntimeError(f"no process listens on port {port}")


def rss_and_fds(pid: int) -> tuple[float, int]:
    """Return the process's resident memory (MiB) and open file descriptors."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
            break
    else:
        rss = float("nan")
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def sse_client(base_url: str, token: str, stop: threading.Event, seen: list[int]) -> None:
    """Keep one live stream open, as a browser tab does, counting what it receives."""
    while not stop.is_set():
        try:
            with httpx.stream(
                "GET",
                f"{base_url}/events",
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(10, read=60),
                trust_env=False,
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("id:"):
                        seen[0] += 1
                    if stop.is_set():
                        return
        except httpx.HTTPError:
            time.sleep(1)


def run(options: argparse.Namespace, workdir: Path, console: Console) -> list[Sample]:
    """Start the server and the load; sample every period until the time is up."""
    with Receiver(workdir / "arrivals.log") as receiver:
        path = workdir / "warroom.yaml"
        path.write_text(yaml.safe_dump(config(receiver)))
        shutil.copytree(TEMPLATES, workdir / "runbooks" / "templates", dirs_exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
        env |= {
            "WARROOM_DATA_DIR": str(workdir / "data"),
            "WARROOM_RUNBOOKS_DIR": str(workdir / "runbooks"),
            "WARROOM_CONFIG": str(path),
            "WARROOM_LOG_LEVEL": "WARNING",
        }
        module = "warroom"
        if options.trace is not None:
            module = "bench.soak_server"
            env["PYTHONPATH"] = str(REPO_ROOT)  # the server runs bench.soak_server
            options.trace.mkdir(parents=True, exist_ok=True)
            env |= {
                "WARROOM_BENCH_TRACE": str(options.trace),
                "WARROOM_BENCH_TRACE_AT": options.trace_at,
            }
        settings = Settings(
            data_dir=workdir / "data", runbooks_dir=workdir / "runbooks", config=path
        )
        runtime = build_runtime(settings, config=WarroomConfig.model_validate(config(receiver)))
        with runtime.db.transaction() as session:
            user = auth.create_user(session, name="viewer", role="viewer", now=runtime.clock.now())
            viewer = auth.create_token(session, user=user, name="soak", now=runtime.clock.now())
        runtime.close()
        stop = threading.Event()
        seen = [0]
        samples: list[Sample] = []
        with serve(env, workdir, workdir / "server.log", module=module) as base_url:
            pid = server_pid(base_url)
            streams = [
                threading.Thread(
                    target=sse_client, args=(base_url, viewer, stop, seen), daemon=True
                )
                for _ in range(options.streams)
            ]
            for stream in streams:
                stream.start()
            started = time.monotonic()
            period: list[float] = []
            sent = 0
            next_sample = started + options.sample
            with httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False
            ) as http:
                while (now := time.monotonic()) < started + options.minutes * 60:
                    # A new group (a new incident, then its escalation) every `group_every`.
                    group = sent // options.group_every
                    began = time.perf_counter()
                    http.post(
                        "/api/v1/intake/alertmanager", json=alert(group, sent)
                    ).raise_for_status()
                    period.append((time.perf_counter() - began) * 1000)
                    sent += 1
                    if now >= next_sample:
                        rss, fds = rss_and_fds(pid)
                        ordered = sorted(period)
                        samples.append(
                            Sample(
                                (now - started) / 60,
                                rss,
                                fds,
                                statistics.median(ordered),
                                ordered[int(len(ordered) * 0.99) - 1 if len(ordered) > 1 else 0],
                                len(ordered),
                            )
                        )
                        console.print(
                            f"{samples[-1].minute:5.1f} min: RSS {rss:6.1f} MiB, {fds} fds, "
                            f"alert p99 {samples[-1].p99_ms:.1f} ms, {seen[0]} stream events"
                        )
                        period = []
                        next_sample += options.sample
                    time.sleep(max(0.0, started + sent / options.rate - time.monotonic()))
            stop.set()
    return samples


def svg(samples: list[Sample], warmup: float) -> str:
    """Return three stacked line panels over time: RSS, open files, alert p99."""
    width, panel, left, gap = 720, 150, 64, 36
    height = 3 * (panel + gap) + 20
    end = max(s.minute for s in samples)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="#fff"/>',
    ]
    panels = [
        ("resident memory, MiB", [s.rss_mib for s in samples], "#0b63ce"),
        ("open file descriptors", [float(s.fds) for s in samples], "#8a4b00"),
        ("alert → answer p99, ms", [s.p99_ms for s in samples], "#1b7f3a"),
    ]
    for number, (name, values, colour) in enumerate(panels):
        top = 20 + number * (panel + gap)
        high = max(values) * 1.15 or 1

        def x_of(minute: float) -> float:
            return left + (width - left - 16) * minute / (end or 1)

        def y_of(value: float, top: float = top, high: float = high) -> float:
            return top + panel - panel * value / high

        parts.append(f'<text x="{left}" y="{top - 6}" font-weight="bold">{name}</text>')
        parts.append(
            f'<line x1="{left}" y1="{top + panel}" x2="{width - 16}" y2="{top + panel}" '
            'stroke="#555"/>'
        )
        parts.append(
            f'<line x1="{x_of(warmup):.1f}" y1="{top}" x2="{x_of(warmup):.1f}" '
            f'y2="{top + panel}" stroke="#999" stroke-dasharray="4 3"/>'
        )
        for tick in (0.0, high / 2, high):
            parts.append(
                f'<text x="{left - 6}" y="{y_of(tick) + 4:.1f}" text-anchor="end">{tick:.0f}</text>'
            )
        points = " ".join(
            f"{x_of(s.minute):.1f},{y_of(v):.1f}" for s, v in zip(samples, values, strict=True)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        parts.append(
            f'<text x="{width - 16}" y="{top + panel + 16}" text-anchor="end">{end:.0f} min</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def slope(points: list[tuple[float, float]]) -> float:
    """Return the least-squares slope of (x, y) points (0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def account_report(directory: Path, console: Console) -> None:
    """Print the server's memory account (bench/soak_server.py), MiB where it is memory."""
    lines = [json.loads(line) for line in (directory / "memory.jsonl").read_text().splitlines()]
    if not lines:
        return
    names = list(lines[-1])
    width = max(len(n) for n in names) + 1
    # Plain lines, not wrapped to the terminal: a table to read in a log.
    console.print("".join(f"{n:>{width}}" for n in names), soft_wrap=True, highlight=False)
    for line in lines:
        row = "".join(f"{line.get(n, ''):>{width}}" for n in names)
        console.print(row, soft_wrap=True, highlight=False)


def growth_report(directory: Path, minutes: list[str], console: Console, top: int = 15) -> None:
    """Print what grew most between the first and the last snapshot, by allocating traceback."""
    first, last = (
        tracemalloc.Snapshot.load(str(directory / f"{float(m):g}.snapshot"))
        for m in (minutes[0], minutes[-1])
    )
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen *>"),
    ]
    first, last = first.filter_traces(ignore), last.filter_traces(ignore)
    stats = last.compare_to(first, "traceback")
    total = sum(s.size_diff for s in stats)
    console.print(
        f"traced memory grew {total / 2**20:+.2f} MiB from minute {minutes[0]} to {minutes[-1]}"
    )
    for stat in stats[:top]:
        console.print(
            f"[bold]{stat.size_diff / 1024:+.1f} KiB[/] ({stat.count_diff:+d} blocks, "
            f"{stat.size / 1024:.1f} KiB now)"
        )
        for line in stat.traceback.format(limit=FRAMES_SHOWN, most_recent_first=True):
            console.print(f"    {line}", markup=False, highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run the soak and record it in docs/benchmarks.md and docs/images/soak.svg."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20, help="alerts per second")
    parser.add_argument("--group-every", type=int, default=50, help="alerts per new incident")
    parser.add_argument("--streams", type=int, default=20, help="SSE clients")
    parser.add_argument("--sample", type=float, default=30, help="seconds between samples")
    parser.add_argument("--no-write", action="store_true", help="leave docs/ alone")
    parser.add_argument(
        "--trace",
        type=Path,
        help="diagnose: the server's memory account (and snapshots) here; implies --no-write",
    )
    parser.add_argument(
        "--trace-at",
        default="",
        help="with --trace: minutes at which tracemalloc snapshots are taken (first,...,last)",
    )
    options = parser.parse_args(argv)
    if options.trace is not None:
        options.no_write = True  # a diagnostic run, not the soak's figures
    console = Console()
    with tempfile.TemporaryDirectory(prefix="warroom-soak-") as tmp:
        samples = run(options, Path(tmp), console)
    warmup = options.minutes / 6
    after = [s for s in samples if s.minute >= warmup]
    if not after:
        raise RuntimeError("the run was too short to pass its warm-up")
    growth = (after[-1].rss_mib - after[0].rss_mib) / after[0].rss_mib
    verdict = "flat" if growth < GROWTH_LIMIT else "GROWING"
    first, last = after[0].rss_mib, after[-1].rss_mib
    rate = slope([(s.minute, s.rss_mib) for s in after])
    console.print(
        f"RSS after warm-up {first:.1f} → {last:.1f} MiB: {growth:+.1%} ({verdict}), "
        f"trend {rate:+.3f} MiB/min"
    )
    if options.trace is not None:
        account_report(options.trace, console)
        if options.trace_at:
            growth_report(options.trace, options.trace_at.split(","), console)
    if options.no_write:
        return 0 if growth < GROWTH_LIMIT else 1
    (REPO_ROOT / "docs" / "images" / "soak.svg").write_text(svg(samples, warmup))
    info = machine_info()
    rows = [
        [
            f"{s.minute:.1f}",
            f"{s.rss_mib:.1f}",
            str(s.fds),
            f"{s.p50_ms:.1f}",
            f"{s.p99_ms:.1f}",
            str(s.alerts),
        ]
        for s in samples[:: max(1, len(samples) // 10)]
    ]
    body = "\n\n".join(
        [
            "## Soak (issue 17, item 9)",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['CPU']} ({info['Cores']} "
            f"cores), SQLite {info['SQLite']}, one `warroom serve`: {options.minutes:g} minutes at "
            f"{options.rate:g} alerts/s (a new incident every {options.group_every} alerts, each "
            f"paging twice), {options.streams} live streams open. "
            f"`{command_line('bench.soak', argv or [])}`.",
            f"Resident memory after the warm-up ({warmup:g} min): {after[0].rss_mib:.1f} MiB, at "
            f"the end {after[-1].rss_mib:.1f} MiB: **{growth:+.1%}** (target < +10 %); the "
            f"trend (least squares) {rate:+.3f} MiB/min.",
            "![Memory, open files and alert latency over the soak](images/soak.svg)",
            markdown_table(["minute", "RSS MiB", "fds", "p50 ms", "p99 ms", "alerts"], rows),
        ]
    )
    write_section(REPO_ROOT / "docs" / "benchmarks.md", "soak", body)
    return 0 if growth < GROWTH_LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
