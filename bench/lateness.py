"""Escalation lateness: 10,000 incidents falling due at once, taken by one or more engines.

The engines are real `warroom engine` processes (as deployed beside `warroom serve
--no-engine`), sharing one database; on PostgreSQL they split the due steps with
`FOR UPDATE SKIP LOCKED`. Each engine reports its share on its own `/metrics` port.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, insert, select, update

from bench.common import LOOPBACK, Stats, free_port
from bench.incidents import TEMPLATES
from bench.receiver import TOKEN, Receiver
from warroom.config import WarroomConfig
from warroom.escalation.models import Escalation
from warroom.incidents.models import Incident
from warroom.migrations import migrate
from warroom.notify.models import Notification
from warroom.storage.counters import Counter as CounterRow
from warroom.storage.db import Database

CHANNELS = 20  # services, each paging its own channel (no bundling, no rate limit)
SEED_BATCH = 1000
LEAD = timedelta(seconds=3)  # from arming the seeded steps to their falling due
STEPS = re.compile(r"^warroom_escalation_steps_total (\S+)$", re.MULTILINE)


@dataclass
class Lateness:
    """The 10,000-at-once run on one backend with some engines."""

    backend: str
    engines: int
    incidents: int
    written: Stats  # due -> page in the outbox
    delivered: Stats  # due -> page delivered to the receiver
    per_second: float  # outbox delivery rate
    repeats: int
    steps: list[int]  # due steps each engine took (its /metrics)
    sent: list[int]  # pages each engine's sender delivered

    @property
    def split(self) -> str:
        """Each engine's share of the steps, and of the sends: `5,012 / 4,988`."""
        return " / ".join(f"{n:,}" for n in self.steps)


class _Watcher(threading.Thread):
    """Notes how many outbox rows another connection sees (committed ones), every 5 ms.

    Several engines commit their batches in any order, so no id tells what is visible;
    the count does, and every seeded step falls due at the same instant, so the k-th row
    to show is as late as the k-th moment the count reached.
    """

    def __init__(self, db: Database) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.samples: list[tuple[int, datetime]] = []  # (rows visible, when)
        self._stop_event = threading.Event()

    def run(self) -> None:
        last = 0
        query = select(func.count()).select_from(Notification)
        while not self._stop_event.wait(0.005):
            with self.db.read_engine.connect() as connection:
                visible = int(connection.execute(query).scalar() or 0)
            if visible > last:
                self.samples.append((visible, datetime.now(UTC)))
                last = visible

    def visible_at(self) -> list[datetime]:
        """Return when each row became visible, in order."""
        times: list[datetime] = []
        for visible, at in self.samples:
            times += [at] * (visible - len(times))
        return times

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.db.dispose()


def lateness_config(receiver: Receiver) -> dict[str, Any]:
    """Twenty services, each with a one-step policy posting to its own channel."""
    return {
        "services": [{"id": f"svc{i}", "escalation": f"p{i}"} for i in range(CHANNELS)],
        "escalation_policies": [
            {"id": f"p{i}", "steps": [{"after": "0s", "notify": [f"channel:#pages-{i}"]}]}
            for i in range(CHANNELS)
        ],
        "integrations": {
            "slack": {"signing_secret": "s" * 32, "bot_token": TOKEN, "base_url": receiver.url}
        },
        "notifications": {
            "incident_channels": False,
            "rate_limits": {"channel": {"count": 1_000_000, "per": "1s"}},
        },
    }


def seed_escalations(db: Database, config: WarroomConfig, count: int, due: datetime) -> None:
    """Insert `count` open SEV-1 incidents whose first escalation step is due at `due`."""
    now = datetime.now(UTC)
    policies = {p.id: p for p in config.escalation_policies}
    columns = (TextColumn("[bold]seeding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("seed", total=count)
        for first in range(1, count + 1, SEED_BATCH):
            numbers = range(first, min(count, first + SEED_BATCH - 1) + 1)
            incidents = [
                {
                    "id": n,
                    "number": n,
                    "slug": f"bench-{n}",
                    "title": f"Bench incident {n}",
                    "summary": "",
                    "status": "detected",
                    "severity": "SEV-1",
                    "peak_severity": "SEV-1",
                    "incident_type": "default",
                    "service": f"svc{n % CHANNELS}",
                    "visibility": "public",
                    "links": {},
                    "source": "bench",
                    "detected_at": now,
                    "updated_at": now,
                }
                for n in numbers
            ]
            escalations = []
            for n in numbers:
                policy = policies[f"p{n % CHANNELS}"]
                escalations.append(
                    {
                        "incident_id": n,
                        "policy_id": policy.id,
                        "policy_version": policy.version(),
                        "policy": policy.model_dump(mode="json"),
                        "step": 0,
                        "loop": 0,
                        "state": "active",
                        "started_at": due,
                        "next_at": due,
                        "updated_at": now,
                    }
                )
            with db.write_engine.begin() as connection:
                connection.execute(insert(Incident), incidents)
                connection.execute(insert(Escalation), escalations)
            progress.advance(task, len(incidents))
    with db.write_engine.begin() as connection:
        connection.execute(insert(CounterRow).values(name="incident_number", value=count))


@contextmanager
def engine_process(env: dict[str, str], workdir: Path, name: str) -> Iterator[str]:
    """Run `warroom engine` with its metrics port; yield that port's URL once it is ready."""
    port = free_port()
    command = [sys.executable, "-m", "warroom", "engine", "--host", LOOPBACK, "--port", str(port)]
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"warroom engine did not become ready:\n{tail}")
            try:
                if httpx.get(f"{url}/readyz", timeout=1, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def steps_taken(url: str) -> int:
    """Return how many due steps the engine at `url` advanced (its own counter)."""
    body = httpx.get(f"{url}/metrics", timeout=10, trust_env=False).text
    found = STEPS.search(body)
    return int(float(found.group(1))) if found else 0


def measure_lateness(
    backend: str,
    url: str,
    count: int,
    workdir: Path,
    console: Console,
    *,
    engines: int,
    env: dict[str, str],
) -> Lateness:
    """Start `engines` engines on a database holding `count` escalations due together."""
    workdir.mkdir(parents=True, exist_ok=True)
    with Receiver(workdir / "late-arrivals.log") as receiver:
        raw = lateness_config(receiver)
        config = WarroomConfig.model_validate(raw)
        config_path = workdir / "late.yaml"
        config_path.write_text(yaml.safe_dump(raw))
        shutil.copytree(TEMPLATES, workdir / "runbooks" / "templates", dirs_exist_ok=True)
        env = env | {
            "WARROOM_DATABASE_URL": url,
            "WARROOM_CONFIG": str(config_path),
            "WARROOM_DATA_DIR": str(workdir / "var"),
            "WARROOM_RUNBOOKS_DIR": str(workdir / "runbooks"),
            "WARROOM_LOG_LEVEL": "WARNING",
        }
        db = Database(url)
        migrate.upgrade(db)
        seed_escalations(db, config, count, datetime.now(UTC) + timedelta(hours=1))
        watcher = _Watcher(Database(url))
        with ExitStack() as stack:
            urls = [
                stack.enter_context(engine_process(env, workdir, f"engine-{i + 1}"))
                for i in range(engines)
            ]
            # Armed once every engine runs: the steps fall due together, a few seconds on.
            due = datetime.now(UTC) + LEAD
            with db.write_engine.begin() as connection:
                connection.execute(update(Escalation).values(next_at=due, started_at=due))
            watcher.start()
            try:
                console.print(
                    f"  {backend}, {engines} engine(s): {count:,} escalations due in "
                    f"{LEAD.total_seconds():.0f} s"
                )
                if not receiver.wait_for(count, timeout=600):
                    raise RuntimeError(f"only {receiver.count} of {count} pages arrived")
                steps = [steps_taken(u) for u in urls]
            finally:
                watcher.stop()
        with db.session() as session:
            rows = session.execute(
                select(Notification.due_at, Notification.sent_at, Notification.claimed_by)
            ).all()
        db.dispose()
    visible = watcher.visible_at()
    dues = sorted(d for d, _, _ in rows)
    written = [(v - d).total_seconds() for v, d in zip(visible, dues, strict=False)]
    delivered = [(s - d).total_seconds() for d, s, _ in rows if s is not None]
    last = max(s for _, s, _ in rows if s is not None)
    senders = Counter(owner for _, _, owner in rows)
    return Lateness(
        backend,
        engines,
        count,
        Stats.of(written),
        Stats.of(delivered),
        len(delivered) / max((last - watcher.samples[0][1]).total_seconds(), 1e-6),
        receiver.repeats,
        steps,
        sorted(senders.values(), reverse=True),
    )
