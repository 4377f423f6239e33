"""Shared benchmark helpers: statistics, the machine, a loopback server, the results page."""

from __future__ import annotations

import importlib
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Connection, create_engine, text

REPO_ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Stats:
    """Latency summary of a series of timings, in milliseconds."""

    count: int
    p50: float
    p99: float
    mean: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Stats:
        """Summarise timings given in seconds."""
        if not seconds:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"))
        ordered = sorted(seconds)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 50) * 1000,
            p99=percentile(ordered, 99) * 1000,
            mean=sum(ordered) / len(ordered) * 1000,
            max=ordered[-1] * 1000,
        )


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Return the nearest-rank percentile of already sorted values."""
    if not ordered:
        raise ValueError("no values")
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil(n * pct / 100), at least 1
    return ordered[int(rank) - 1]


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _proc_field(path: str, key: str) -> str | None:
    """Return the value of the first `key: value` line of a /proc file, if readable."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name.strip() == key:
                    return value.strip()
    except OSError:
        return None
    return None


def machine_info() -> dict[str, str]:
    """Describe this machine: CPU, cores, memory, OS, Python and SQLite versions."""
    mem_kb = _proc_field("/proc/meminfo", "MemTotal")
    memory = "unknown"
    if mem_kb and mem_kb.split()[0].isdigit():
        memory = f"{int(mem_kb.split()[0]) / 1024 / 1024:.1f} GiB"
    return {
        "CPU": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "Cores": str(os.cpu_count()),
        "Memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
    }


def client(base_url: str, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
    """Return an HTTP client for the loopback server (no proxies from the environment)."""
    if not base_url.startswith(f"http://{LOOPBACK}:"):
        raise ValueError(f"benchmarks only talk to {LOOPBACK}, not {base_url}")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=timeout, trust_env=False)


@contextmanager
def warroom_server(
    env: dict[str, str], workdir: Path, log_path: Path, *, module: str = "warroom"
) -> Iterator[str]:
    """Run `warroom serve` on a free loopback port; yield its base URL; stop it after.

    `module` is what `python -m` runs: a benchmark's own wrapper of the CLI may stand in.
    """
    port = free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    command = [sys.executable, "-m", module, "serve", "--host", LOOPBACK, "--port", str(port)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _wait_ready(process, base_url, log_path)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=35)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, log_path: Path) -> None:
    """Wait until /healthz answers, or raise with the end of the server's log."""
    deadline = time.monotonic() + 60
    with client(base_url, timeout=1.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                if http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
    raise RuntimeError(f"warroom serve did not become ready at {base_url}:\n{tail}")


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int = 1
) -> str:
    """Render a GitHub-flavoured markdown table; the first `text_columns` align left."""
    align = ["---" if i < text_columns else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


DOCS_INTRO = """# Benchmarks

Run them with `make bench` (about fifteen minutes): `python -m bench.cli` times the CLI's
start-up; `python -m bench.incidents` starts the real server (`warroom serve`) on a free
127.0.0.1 port against SQLite (a file in a temporary directory) and PostgreSQL
(`WARROOM_BENCH_POSTGRES_URL`, default `postgresql+psycopg://postgres@127.0.0.1:5432/test`; a
scratch database `warroom_bench` is created and dropped, and PostgreSQL is skipped with a note
when unreachable) and drives it over HTTP with httpx; `python -m bench.access` times, in one
process on the same 100,000 incidents, what authenticating a request and checking an incident's
visibility add to it; `python -m bench.oncall` times the schedule engine; `python -m
bench.intake` loads the intake routes and Alertmanager 0.25 with wrk; `python -m
bench.escalation` times the escalation engine (one and two `warroom engine` processes) and
the outbox; `python -m bench.scale` runs the several-instances test at full size (10,000
alerts in 1,000 groups through two API instances, two engines). Each replaces its own section
below with the new figures.

Options of `bench.incidents`: `--quick` (a small smoke run), `--backend sqlite|postgresql|all`,
`--incidents N`, `--clients N`, `--stored N`, `--requests N`, `--no-write` (leave this page
alone); `bench.access` takes `--quick`, `--backend`, `--stored`, `--requests` and `--no-write`
too.
Figures depend on the machine and on what else runs on it; compare runs on the same host.
"""


def write_section(path: Path, name: str, body: str) -> None:
    """Replace the marked section `name` of a markdown page (creating page or section)."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body.strip()}\n{end}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else DOCS_INTRO
    if start in text and end in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        text = before + block + after.lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def command_line(module: str, argv: list[str]) -> str:
    """Return a benchmark's command as it was typed, with the interpreter relative to the repo."""
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(REPO_ROOT))
    except ValueError:
        shown = "python"
    return " ".join([shown, "-m", module, *argv])


def search_triggers(connection: Connection, *, on: bool) -> None:
    """Drop the full-text index's triggers (migration 0027), or create them again; on
    PostgreSQL disable or enable them. Benchmarks compare writes with and without the index."""
    migration = importlib.import_module("warroom.migrations.versions.0027_search")
    latest = importlib.import_module("warroom.migrations.versions.0029_search_edits_in_place")
    sqlite = connection.dialect.name == "sqlite"
    for source in migration.SOURCES:
        for event in ("insert", "update", "delete"):
            name = f"search_{source.kind}_{event}"
            if sqlite:
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
                continue
            found = connection.execute(
                text("SELECT 1 FROM pg_trigger WHERE tgname = :n"), {"n": name}
            ).first()
            if found:
                verb = "ENABLE" if on else "DISABLE"
                connection.execute(text(f"ALTER TABLE {source.table} {verb} TRIGGER {name}"))
        if sqlite and on:
            for statement in latest.sqlite_triggers(source):
                connection.execute(text(statement))


def without_search_index(database_url: str | None, sqlite_file: Path) -> None:
    """Take the search triggers out of a running server's database (`database_url`, else
    the SQLite file): the server sees the change at its next statement."""
    from warroom.settings import normalise_database_url

    url = normalise_database_url(database_url) if database_url else f"sqlite:///{sqlite_file}"
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            search_triggers(connection, on=False)
    finally:
        engine.dispose()
