"""Paging by SMS: alert → the SMS request at a loopback Twilio, and 1,000 people at once.

Targets (issue 16), SQLite, one `warroom serve` process (engine included):
- an Alertmanager alert to the SMS request Twilio receives: p99 ≤ 150 ms;
- one alert that pages a team of 1,000 people by SMS: every SMS sent within 10 s.
The provider's rate limit (`integrations.twilio.sms_rate`) is measured too: it is honoured,
so 1,000 texts at 150 a second take at least 6.7 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console
from tests.notify.twilio_server import TwilioServer
from tests.notify.webhook_receiver import Answer

from bench.common import (
    REPO_ROOT,
    Stats,
    command_line,
    machine_info,
    markdown_table,
    write_section,
)
from bench.common import warroom_server as serve
from bench.incidents import TEMPLATES

TOKEN = "bench-token-0123456789"
TEAM = 1000
TARGET_P99 = 0.150  # seconds
TARGET_TEAM = 10.0  # seconds


class TimedTwilio(TwilioServer):
    """The loopback Twilio, noting when each SMS request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: list[float] = []
        self._arrival = threading.Condition()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer as Twilio does; note the arrival of a text."""
        answer = super().handle(method, path, headers, body)
        if path.endswith("/Messages.json"):
            with self._arrival:
                self.arrived.append(time.perf_counter())
                self._arrival.notify_all()
        return answer

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until `count` texts have arrived."""
        deadline = time.monotonic() + timeout
        with self._arrival:
            while len(self.arrived) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrival.wait(left)
        return True


def config(twilio: TwilioServer, sms_rate: dict[str, Any] | None) -> dict[str, Any]:
    """Checkout pages alice; a storm alert pages all 1,000 people of the team, by SMS."""
    people = [
        {"id": f"p{n:04d}", "name": f"P{n}", "phone": f"+4915100{n:06d}"} for n in range(TEAM)
    ]
    return {
        "people": people,
        "teams": [{"id": "everyone", "members": [p["id"] for p in people]}],
        "services": [
            {"id": "checkout", "escalation": "one"},
            {"id": "storm", "escalation": "all"},
        ],
        "escalation_policies": [
            {"id": "one", "steps": [{"notify": ["person:p0000"]}]},
            {"id": "all", "steps": [{"notify": ["team:everyone/members"]}]},
        ],
        "routes": [
            {
                "match": [f'service="{s}"'],
                "service": s,
                "severity": "SEV-1",
                "group_by": ["alertname"],
            }
            for s in ("checkout", "storm")
        ],
        "integrations": {
            "alertmanager": [{"name": "bench", "token": TOKEN}],
            "twilio": twilio.config(timeout=5, **({"sms_rate": sms_rate} if sms_rate else {})),
        },
        "notifications": {
            "incident_channels": False,
            "base_url": "https://warroom.example.com",
            "rules": {"default": [{"via": ["sms"]}]},
            "rate_limits": {"person": {"count": 1_000_000, "per": "1s"}},
        },
    }


def alert(name: str, service: str) -> dict[str, Any]:
    """An Alertmanager webhook with one new firing alert."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "warroom",
        "groupKey": f'{{}}:{{alertname="{name}"}}',
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": service},
                "annotations": {"summary": "CPU high"},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{abs(hash(name)):016x}"[:16],
            }
        ],
    }


@contextmanager
def running(
    workdir: Path, sms_rate: dict[str, Any] | None
) -> Iterator[tuple[httpx.Client, TimedTwilio]]:
    """Start the loopback Twilio and `warroom serve` on a fresh SQLite database."""
    with TimedTwilio() as twilio:
        path = workdir / "warroom.yaml"
        path.write_text(yaml.safe_dump(config(twilio, sms_rate)))
        shutil.copytree(TEMPLATES, workdir / "runbooks" / "templates", dirs_exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WARROOM_")}
        env |= {
            "WARROOM_DATA_DIR": str(workdir / "data"),
            "WARROOM_RUNBOOKS_DIR": str(workdir / "runbooks"),
            "WARROOM_CONFIG": str(path),
            "WARROOM_LOG_LEVEL": "WARNING",
        }
        with (
            serve(env, workdir, workdir / "server.log") as base_url,
            httpx.Client(
                base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False
            ) as http,
        ):
            yield http, twilio


def alert_to_sms(workdir: Path, alerts: int) -> Stats:
    """Post alerts one at a time; time each until its SMS reaches Twilio."""
    timings = []
    with running(workdir, None) as (http, twilio):
        for index in range(alerts + 5):  # the first five warm up
            started = time.perf_counter()
            http.post("/api/v1/intake/alertmanager", json=alert(f"Cpu{index}", "checkout"))
            if not twilio.wait_for(index + 1, timeout=10):
                raise RuntimeError(f"no SMS for alert {index} within 10 s")
            if index >= 5:
                timings.append(twilio.arrived[index] - started)
    return Stats.of(timings)


@dataclass
class Storm:
    """One alert paging the whole team: how long until the last SMS, and the rate."""

    label: str
    seconds: float

    def cells(self) -> list[str]:
        """Return the table's cells."""
        return [self.label, f"{TEAM:,}", f"{self.seconds:.2f}", f"{TEAM / self.seconds:.0f}"]


def team_page(workdir: Path, label: str, sms_rate: dict[str, Any] | None) -> Storm:
    """Post one alert that pages 1,000 people; time it until the 1,000th SMS."""
    with running(workdir, sms_rate) as (http, twilio):
        http.post("/api/v1/intake/alertmanager", json=alert("Warmup", "checkout"))
        twilio.wait_for(1, timeout=10)
        started = time.perf_counter()
        http.post("/api/v1/intake/alertmanager", json=alert("Storm", "storm"))
        if not twilio.wait_for(TEAM + 1, timeout=120):
            raise RuntimeError(f"only {len(twilio.arrived) - 1} of {TEAM} SMS arrived")
        return Storm(label, twilio.arrived[TEAM] - started)


def main(argv: list[str] | None = None) -> int:
    """Run the paging benchmarks and record them in docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--no-write", action="store_true", help="leave docs/benchmarks.md alone")
    options = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="warroom-paging-") as tmp:
        root = Path(tmp)
        for name in ("one", "team", "limited"):
            (root / name).mkdir()
        latency = alert_to_sms(root / "one", options.alerts)
        console.print(f"alert → SMS: p50 {latency.p50:.1f} ms, p99 {latency.p99:.1f} ms")
        storms = [
            team_page(root / "team", "no provider limit", None),
            team_page(root / "limited", "sms_rate 150 per second", {"count": 150, "per": "1s"}),
        ]
        for storm in storms:
            console.print(f"{storm.label}: {TEAM} SMS in {storm.seconds:.2f} s")
    info = machine_info()
    body = "\n\n".join(
        [
            "## Paging by SMS (issue 16)",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {info['CPU']} "
            f"({info['Cores']} cores, {info['Memory']}), {info['OS']}, Python {info['Python']}, "
            f"SQLite {info['SQLite']}; one "
            f"`warroom serve` process with its engine; Twilio is a loopback server speaking "
            f"its REST format, reached through the `twilio` SDK. "
            f"`{command_line('bench.paging', argv or [])}`.",
            "Alert → SMS: an Alertmanager webhook opening a new incident, until the SMS request "
            f"reaches Twilio, {options.alerts} alerts one after another (target p99 ≤ 150 ms):",
            markdown_table(
                ["", "alerts", "p50 ms", "mean ms", "p99 ms", "max ms"],
                [
                    [
                        "alert → SMS",
                        str(latency.count),
                        f"{latency.p50:.1f}",
                        f"{latency.mean:.1f}",
                        f"{latency.p99:.1f}",
                        f"{latency.max:.1f}",
                    ]
                ],
            ),
            "One alert paging a team of 1,000 people by SMS, until the last SMS reaches Twilio "
            "(target ≤ 10 s); with a provider limit the sender keeps to it:",
            markdown_table(
                ["", "texts", "seconds", "texts/s"], [storm.cells() for storm in storms]
            ),
        ]
    )
    if not options.no_write:
        write_section(REPO_ROOT / "docs" / "benchmarks.md", "paging", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
