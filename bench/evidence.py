"""Evidence upload throughput: a 100 MiB file streamed to `warroom serve` over loopback.

Target (issue 15): at least 200 MiB/s hashing and writing. Also measured, to show where the
ceiling is on this machine: SHA-256 alone in memory, the store alone (hash, write, fsync),
and the same upload to a uvicorn app that only reads the body and drops it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    LOOPBACK,
    REPO_ROOT,
    client,
    command_line,
    free_port,
    machine_info,
    markdown_table,
    write_section,
)
from bench.common import warroom_server as serve
from bench.incidents import server_folder
from warroom.app import build_runtime
from warroom.auth import service as auth
from warroom.cli.upload import multipart
from warroom.evidence.store import CHUNK, Store

MIB = 1 << 20
TARGET = 200.0  # MiB/s


@dataclass
class Row:
    """One measurement: its label, the MiB/s of each run."""

    label: str
    rates: list[float]

    def cells(self) -> list[str]:
        """Return the table's cells."""
        median, best = statistics.median(self.rates), max(self.rates)
        return [self.label, str(len(self.rates)), f"{median:.0f}", f"{best:.0f}"]


def hash_only(data: bytes, runs: int) -> Row:
    """SHA-256 of the file in memory, in the store's chunks."""
    rates = []
    view = memoryview(data)
    for _ in range(runs):
        started = time.perf_counter()
        digest = hashlib.sha256()
        for at in range(0, len(data), CHUNK):
            digest.update(view[at : at + CHUNK])
        rates.append(len(data) / MIB / (time.perf_counter() - started))
    return Row("SHA-256 alone, in memory", rates)


def store_only(data: bytes, root: Path, runs: int) -> Row:
    """The store alone: hash, write to a temporary file, fsync, link under the hash."""
    store = Store(root / "store-only")
    rates, view = [], memoryview(data)
    for run in range(runs):
        started = time.perf_counter()
        incoming = store.receive(limit=len(data) + 16)
        incoming.write(view[:16].tobytes() + bytes([run]))  # a new file each run
        for at in range(16, len(data), CHUNK):
            incoming.write(view[at : at + CHUNK])
        incoming.finish()
        incoming.keep()
        rates.append(len(data) / MIB / (time.perf_counter() - started))
    return Row("the store alone: hash, write, fsync", rates)


SINK = """
import uvicorn

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})

uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_level="warning")
"""


@contextmanager
def sink_server() -> Iterator[str]:
    """Run a uvicorn app that reads every body and keeps nothing; yield its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    base_url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 20
        with client(base_url, timeout=1.0) as http:
            while time.monotonic() < deadline:
                try:
                    http.post("/", content=b"")
                    break
                except Exception:
                    time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=20)


def upload_rates(base_url: str, token: str | None, path: Path, url: str, runs: int) -> list[float]:
    """Stream the file `runs` times (after one warm-up) as multipart; return MiB/s of each."""
    rates = []
    size = path.stat().st_size
    with client(base_url, token, timeout=300) as http:
        for run in range(runs + 1):
            content_type, length, body = multipart(
                path, filename=f"capture-{run}.bin", fields={"note": "bench"}
            )
            headers = {"Content-Type": content_type, "Content-Length": str(length)}
            started = time.perf_counter()
            answer = http.post(url, content=body, headers=headers)
            elapsed = time.perf_counter() - started
            if answer.status_code != 201:
                raise RuntimeError(f"upload failed: {answer.status_code} {answer.text[:300]}")
            if run:  # the first is a warm-up
                rates.append(size / MIB / elapsed)
    return rates


def main() -> None:
    """Measure and record the results in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    args = parser.parse_args()
    started = time.monotonic()
    data = os.urandom(args.size_mib * MIB)
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        root = Path(tmp)
        source = root / "capture.bin"
        source.write_bytes(data)
        rows = [hash_only(data, args.runs), store_only(data, root, args.runs)]
        with sink_server() as sink:
            rows.append(
                Row(
                    "loopback only: uvicorn reads the body, keeps nothing",
                    upload_rates(sink, None, source, "/", args.runs),
                )
            )
        env, settings = server_folder(root / "server", None)
        runtime = build_runtime(settings)
        with runtime.db.transaction() as session:
            user = auth.create_user(
                session, name="bench", role="responder", now=runtime.clock.now()
            )
            token = auth.create_token(session, user=user, name="bench", now=runtime.clock.now())
        runtime.close()
        with serve(env, root / "server", root / "server.log") as base_url:
            with client(base_url, token) as http:
                declared = http.post("/api/v1/incidents", json={"title": "Evidence bench"})
                declared.raise_for_status()
            ref = declared.json()["ref"]
            warroom_row = Row(
                "**warroom**: `POST /api/v1/incidents/{ref}/evidence`, SQLite",
                upload_rates(
                    base_url, token, source, f"/api/v1/incidents/{ref}/evidence", args.runs
                ),
            )
        rows.append(warroom_row)
    for row in rows:
        print(" | ".join(row.cells()))
    if args.no_write:
        return
    median = statistics.median(warroom_row.rates)
    met = "met" if median >= TARGET else "**not met**"
    info = machine_info()
    machine = "; ".join(f"{key}: {value}" for key, value in info.items())
    body = "\n".join(
        [
            "## Evidence upload (latest run)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Command: `{command_line('bench.evidence', sys.argv[1:])}`",
            f"- Machine: {machine}",
            f"- Total run time: {time.monotonic() - started:.0f} s; 1-minute load average at the "
            f"end: {os.getloadavg()[0]:.2f}",
            "",
            f"A {args.size_mib} MiB file of random bytes is streamed as multipart/form-data by "
            "an httpx client (1 MiB pieces, Content-Length known) to `warroom serve` (uvicorn, "
            "one process, SQLite) on 127.0.0.1; the time is from the request's start to the "
            "201 answer, so it covers receiving, parsing, hashing, writing, the fsync, linking "
            "the file under its hash and the database transaction (item, custody entry, "
            "timeline event, audit entry). One warm-up upload, then "
            f"{args.runs} timed ones, each of new content. Client and server share the "
            "machine's cores. The other rows measure the parts alone, on the same file: "
            "the ceiling each sets.",
            "",
            markdown_table(
                ["What", "Runs", "Median MiB/s", "Best MiB/s"], [row.cells() for row in rows]
            ),
            "",
            f"Target: at least {TARGET:.0f} MiB/s for the upload (median): {met}.",
        ]
    )
    write_section(REPO_ROOT / "docs" / "benchmarks.md", "evidence", body)


if __name__ == "__main__":
    main()
