"""The routing in force follows the configuration in force, however often it is reloaded."""

from __future__ import annotations

from pathlib import Path

from warroom.runtime import Runtime

ROUTES = """
routes:
  - {{match: ['service="checkout"'], severity: {severity}}}
  - {{default: true, severity: SEV-3}}
"""


def test_every_reload_routes_by_the_new_routes(runtime: Runtime, tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    runtime.settings.config = path
    labels = {"service": "checkout", "alertname": "HighCPU"}
    for trial in range(100):
        severity = "SEV-1" if trial % 2 else "SEV-2"
        path.write_text(ROUTES.format(severity=severity))
        # Two reloads without routing between them: the config routed last is freed by the
        # second, whose successor may be built at its address (what an id() key mistook).
        runtime.reload_config()
        runtime.reload_config()
        decision = runtime.intake.router().decide(labels)
        assert decision.severity == severity, f"trial {trial}: stale routes in force"
