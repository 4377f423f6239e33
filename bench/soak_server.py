"""`warroom` that accounts for its memory when WARROOM_BENCH_TRACE names a directory: bench.soak's
diagnostic run, which looks for what grows. Never a way to run warroom.

Every 30 s a line of `memory.jsonl` splits the resident memory into what SQLite holds (its page
caches), what malloc hands out and keeps free, and Python's own blocks; with
WARROOM_BENCH_TRACE_AT (minutes) tracemalloc snapshots are written there too.
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = 12  # deep enough to reach warroom's code below SQLAlchemy's and starlette's
PERIOD = 30.0


class _MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2` (all arenas)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _libraries() -> tuple[ctypes.CDLL | None, ctypes.CDLL | None]:
    """Return the SQLite library the sqlite3 module uses, and glibc, where there are."""
    try:
        sqlite = ctypes.CDLL("libsqlite3.so.0")
        sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    except OSError:
        sqlite = None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        libc = None
    return sqlite, libc


def sample(
    started: float, sqlite: ctypes.CDLL | None, libc: ctypes.CDLL | None
) -> dict[str, float]:
    """Return one line of the account, in MiB where it is memory."""
    mib = 2**20
    line: dict[str, float] = {"minute": round((time.monotonic() - started) / 60, 2)}
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith(("VmRSS:", "RssAnon:", "RssFile:")):
            line[row.split(":")[0]] = round(int(row.split()[1]) / 1024, 2)
    if sqlite is not None:
        line["sqlite"] = round(sqlite.sqlite3_memory_used() / mib, 2)
    if libc is not None:
        info = libc.mallinfo2()
        line["malloc_used"] = round(info.uordblks / mib, 2)
        line["malloc_free"] = round(info.fordblks / mib, 2)
        line["malloc_mmap"] = round(info.hblkhd / mib, 2)
    line["db_files"] = _open_databases()
    line["py_blocks"] = sys.getallocatedblocks()
    line["threads"] = threading.active_count()
    if tracemalloc.is_tracing():
        line["traced"] = round(tracemalloc.get_traced_memory()[0] / mib, 2)
    return line


def _open_databases() -> int:
    """Return how many database files are open: one per SQLite connection."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}").endswith(".db")
        except OSError:
            continue
    return found


def account(directory: Path, snapshots: list[float]) -> None:
    """Write the account every PERIOD; trace from a minute in and snapshot at `snapshots`."""
    started = time.monotonic()
    sqlite, libc = _libraries()
    due = sorted(snapshots)
    with open(directory / "memory.jsonl", "a", encoding="utf-8") as out:
        while True:
            now = (time.monotonic() - started) / 60
            # Not from the start: traced imports take the server past its readiness deadline,
            # and what grows later is allocated later.
            if due and now >= 1 and not tracemalloc.is_tracing():
                tracemalloc.start(FRAMES)
            if due and now >= due[0]:
                minute = due.pop(0)
                gc.collect()
                tracemalloc.take_snapshot().dump(str(directory / f"{minute:g}.snapshot"))
                kinds = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
                lines = [f"{count} {name}" for name, count in kinds.most_common(60)]
                (directory / f"{minute:g}.objects").write_text("\n".join(lines) + "\n")
            out.write(json.dumps(sample(started, sqlite, libc)) + "\n")
            out.flush()
            time.sleep(PERIOD)


if (trace := os.environ.get("WARROOM_BENCH_TRACE")) is not None:
    at = [float(m) for m in os.environ.get("WARROOM_BENCH_TRACE_AT", "").split(",") if m]
    threading.Thread(target=account, args=(Path(trace), at), daemon=True).start()

if __name__ == "__main__":
    from warroom.cli.main import run

    run()
