"""What the full-text search index costs intake: new incidents and alerts, with and without it.

Issue 19: the search index (migration 0027: triggers that write `search_documents` in the
transaction of each indexed row) costs < 10 % of new-incident throughput. Each round starts
fresh servers on SQLite and runs, once with the triggers and once with them dropped from the
running server's database, (1) `bench.storm`'s storm (webhooks that each open a new incident,
bundling on) and (2) `bench.intake`'s Alertmanager runs of new alerts joining open groups (their
labels are indexed too). Rounds alternate the order, so drift on the machine hits both sides.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from bench import intake, storm
from bench.common import command_line, machine_info, markdown_table, write_section

TARGET_SHARE = 0.10  # the index may cost at most this share of the throughput
INTAKE_RUNS = [("alertmanager", 1, "unique"), ("alertmanager", 100, "unique")]


@dataclass
class Measure:
    """One throughput measured with the index and without it, round after round."""

    what: str
    unit: str
    indexed: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)

    @property
    def share(self) -> float:
        """Return the share of the bare throughput the index costs (median of each side)."""
        bare = statistics.median(self.bare)
        return (bare - statistics.median(self.indexed)) / bare if bare else 0.0


def one_round(
    measures: dict[str, Measure], options: argparse.Namespace, indexed: bool, console: Console
) -> None:
    """Run the storm and the intake runs once, with or without the index."""
    side = "with index" if indexed else "without index"
    outcome = storm.run(f"storm, {side}", options, True, console, search_index=indexed)
    _add(measures, "storm", "new incidents/s", indexed, outcome.rate)
    runs = intake.measure_warroom(
        f"intake, {side}", None, options, console, only=INTAKE_RUNS, search_index=indexed
    )
    for run in runs:
        what = f"alerts joining open groups, {run.batch} per request"
        _add(measures, what, "alerts/s", indexed, run.alerts_per_s)


def _add(measures: dict[str, Measure], what: str, unit: str, indexed: bool, value: float) -> None:
    measure = measures.setdefault(what, Measure(what, unit))
    (measure.indexed if indexed else measure.bare).append(value)


def rows(measures: dict[str, Measure]) -> list[list[str]]:
    """One row per throughput: medians with and without the index, the share it costs."""
    return [
        [
            m.what,
            m.unit,
            str(len(m.indexed)),
            f"{statistics.median(m.bare):,.0f}",
            f"{statistics.median(m.indexed):,.0f}",
            f"{100 * m.share:.1f} %",
            "yes" if m.share < TARGET_SHARE else "**no**",
        ]
        for m in measures.values()
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and record the section in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.index_cost", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each side")
    parser.add_argument("--groups", type=int, default=1000, help="storm: new groups")
    parser.add_argument("--alerts", type=int, default=10, help="storm: alerts per group")
    parser.add_argument("--seconds", type=int, default=6, help="intake: length of a wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    options = parser.parse_args(argv)
    if min(options.rounds, options.groups, options.alerts, options.seconds) < 1:
        parser.error("--rounds, --groups, --alerts and --seconds must be at least 1")
    options.settle = 1.0  # the pages are not what this measures
    options.client = "httpx"  # bench.storm's default client
    console = Console()
    measures: dict[str, Measure] = {}
    for round_ in range(options.rounds):
        console.rule(f"round {round_ + 1} of {options.rounds}")
        for indexed in (True, False) if round_ % 2 == 0 else (False, True):
            one_round(measures, options, indexed, console)
    header = ["throughput", "unit", "rounds", "without index", "with index", "cost", "< 10 %"]
    table = markdown_table(header, rows(measures), text_columns=2)
    console.print(table)
    if options.no_write:
        return 0
    info = machine_info()
    body = (
        "## What the search index costs intake\n\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['CPU']} "
        f"({info['Cores']} cores), SQLite {info['SQLite']}, one `warroom serve` per run: "
        f"`{command_line('bench.index_cost', argv or [])}`.\n\n"
        "The same runs with the full-text index's triggers and with them dropped from the "
        "running server's database, alternating, medians of the rounds: the storm of "
        f"`bench.storm` ({options.groups:,} webhooks, each a new incident of {options.alerts} "
        "alerts, bundling on) and `bench.intake`'s Alertmanager runs of new alerts joining "
        f"open groups (wrk, {options.connections} connections, {options.seconds} s). Target: "
        f"the index costs < {TARGET_SHARE:.0%} of each throughput.\n\n{table}\n\n"
        "A negative cost is the noise between runs on a shared machine: the index's own work "
        "is smaller than it.\n"
    )
    write_section(Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md", "index", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
