"""How fast `warroom --help` answers (target: a median under 120 ms, issue 11)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import REPO_ROOT, Stats, machine_info, markdown_table, write_section

TARGET_P50_MS = 120


def time_command(argv: list[str], runs: int) -> Stats:
    """Run a command `runs` times (after one warm-up) and summarise the wall times."""
    subprocess.run(argv, check=True, capture_output=True)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        timings.append(time.perf_counter() - started)
    return Stats.of(timings)


def main() -> None:
    """Time the CLI's start-up and record it in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args()
    warroom = shutil.which("warroom", path=str(Path(sys.executable).parent)) or "warroom"
    commands = {
        "warroom --help": [warroom, "--help"],
        "warroom incident --help": [warroom, "incident", "--help"],
    }
    rows = []
    for label, argv in commands.items():
        stats = time_command(argv, args.runs)
        ok = "yes" if stats.p50 < TARGET_P50_MS else "**no**"
        rows.append([f"`{label}`", str(stats.count), f"{stats.p50:.0f}", f"{stats.max:.0f}", ok])
        print(f"{label}: p50 {stats.p50:.0f} ms, max {stats.max:.0f} ms")
    if args.no_write:
        return
    info = machine_info()
    machine = "; ".join(f"{key}: {value}" for key, value in info.items())
    body = "\n".join(
        [
            "## CLI start-up (latest run)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "- Command: `.venv/bin/python -m bench.cli`",
            f"- Machine: {machine}",
            "",
            "Wall time of the whole process, one warm-up run then timed runs. Target: p50 under "
            f"{TARGET_P50_MS} ms.",
            "",
            markdown_table(
                ["Command", "Runs", "p50 (ms)", "max (ms)", f"p50 < {TARGET_P50_MS} ms"], rows
            ),
        ]
    )
    write_section(REPO_ROOT / "docs" / "benchmarks.md", "cli", body)


if __name__ == "__main__":
    main()
