"""`heartbeats:` in warroom.yaml: each problem named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli.main import app
from warroom.config import load_config
from warroom.core.errors import ConfigError

GOOD = """\
services:
  - id: monitoring
heartbeats:
  - id: watchdog
    service: monitoring
    interval: 1m
    grace: 30s
routes:
  - match: ['alertname="Watchdog"']
    heartbeat: watchdog
"""


def test_a_good_block_loads(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(GOOD)
    config = load_config(path)
    beat = config.heartbeat("watchdog")
    assert beat is not None and beat.timeout.total_seconds() == 90
    assert (beat.severity, beat.token, beat.incident_title()) == (
        "SEV-2",
        None,
        "Heartbeat watchdog stopped (monitoring)",
    )
    assert config.routes[0].heartbeat == "watchdog"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("service: monitoring\n    interval", "service: billing\n    interval"),
            ":5: heartbeats.0.service: unknown service 'billing'; known: monitoring",
        ),
        (("interval: 1m", "interval: 2s"), ":6: heartbeats.0.interval: the interval must be"),
        (("interval: 1m", "interval: 5"), ":6: heartbeats.0.interval: 5 is not a duration"),
        (("    interval: 1m\n", ""), ":4: heartbeats.0.interval: Field required"),
        (
            ("grace: 30s", "grace: 30s\n    severity: SEV-7"),
            ":8: heartbeats.0.severity: unknown severity 'SEV-7'",
        ),
        (
            ("grace: 30s", "grace: 30s\n    incident_type: nope"),
            ":8: heartbeats.0.incident_type: unknown incident type 'nope'",
        ),
        (
            ("grace: 30s", "grace: 30s\n    every: 1m"),
            ":8: heartbeats.0: unknown field 'every' — did you mean 'severity'?",
        ),
        (("id: watchdog", "id: Watch Dog"), ":4: heartbeats.0.id: String should match"),
        (
            ("heartbeat: watchdog", "heartbeat: ghost"),
            ":10: routes.0.heartbeat: unknown heartbeat 'ghost'; known: watchdog",
        ),
        (
            ("heartbeat: watchdog", "heartbeat: watchdog\n    drop: true"),
            ":9: routes.0: a heartbeat route can neither drop nor continue",
        ),
    ],
)
def test_errors_name_the_field(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(p.startswith(f"{path}:") and expected in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_a_heartbeat_defined_twice(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    twice = GOOD.replace(
        "routes:", "  - {id: watchdog, service: monitoring, interval: 5m}\nroutes:"
    )
    path.write_text(twice)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}:8: heartbeats.1.id: heartbeat 'watchdog' is defined twice" in (
        caught.value.problems
    )


def test_config_check_catches_an_unknown_service(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(GOOD.replace("service: monitoring", "service: billing"))
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert "heartbeats.0.service: unknown service 'billing'" in result.output
