"""Mistakes a new user makes in warroom.yaml are errors with file:line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli.main import app
from warroom.config import load_config
from warroom.core.errors import ConfigError


def problems(tmp_path: Path, text: str) -> list[str]:
    """Load `text` as warroom.yaml; return the problems it was refused with."""
    path = tmp_path / "warroom.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems)
    return [p.removeprefix(prefix) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "people: []\nroute:\n  - {default: true, severity: SEV-3}\n",
            "2: unknown section 'route' — did you mean 'routes'?",
        ),
        (
            "escalaton_policies: []\n",
            "1: unknown section 'escalaton_policies' — did you mean 'escalation_policies'?",
        ),
        ("Severities: {}\n", "1: unknown section 'Severities' — did you mean 'severities'?"),
        ("banana: 1\n", "1: unknown section 'banana'; known: actions, auth, detection,"),
    ],
)
def test_unknown_top_level_section(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "people:\n  - id: alice\n    name: Alice\n    emial: alice@example.com\n",
            "4: people.0: unknown field 'emial' — did you mean 'email'?",
        ),
        (
            "services:\n  - {id: checkout, tem: payments}\n",
            "2: services.0: unknown field 'tem' — did you mean 'team'?",
        ),
        (
            "escalation_policies:\n  - id: p\n    steps:\n"
            "      - {afer: 5m, notify: ['person:alice']}\n",
            "4: escalation_policies.0.steps.0: unknown field 'afer' — did you mean 'after'?",
        ),
        (
            "routes:\n  - {matchers: ['a=\"b\"'], severity: SEV-3}\n",
            "2: routes.0: unknown field 'matchers' — did you mean 'match'?",
        ),
        (
            "notifications:\n  rate_limits:\n    person: {count: 3, pr: 1m}\n",
            "3: notifications.rate_limits.person: unknown field 'pr' — did you mean 'per'?",
        ),
        (
            "integrations:\n  smtp: {host: localhost, from: w@example.com, prot: 25}\n",
            "2: integrations.smtp: unknown field 'prot' — did you mean 'port'?",
        ),
    ],
)
def test_misspelt_nested_keys_name_the_right_one(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "escalation_policies:\n  - id: p\n    steps:\n"
            "      - {after: 5, notify: [commander]}\n",
            "4: escalation_policies.0.steps.0.after: 5 is not a duration: write 5m (or 5s)",
        ),
        (
            "notifications:\n  cadence: {SEV-1: 20}\n",
            "2: notifications.cadence.SEV-1: 20 is not a duration: write 20m (or 20s)",
        ),
        (
            "notifications:\n  retry: {base: 2.5}\n",
            "2: notifications.retry.base: 2.5 is not a duration: write it with a unit",
        ),
        (
            "verification:\n  window: '15'\n",
            "2: verification.window: 15 is not a duration: write 15m (or 15s)",
        ),
    ],
)
def test_bare_number_durations_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems(tmp_path, text))


def test_zero_needs_no_unit(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "people:\n  - {id: alice, name: Alice}\n"
        "escalation_policies:\n  - id: p\n    steps:\n"
        "      - {after: 0, notify: ['person:alice']}\n"
        "      - {after: 5m, notify: ['person:alice']}\n"
    )
    config = load_config(path)
    assert [s.after.total_seconds() for s in config.escalation_policies[0].steps] == [0, 300]


def test_x_sections_hold_yaml_anchors(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(
        "x-rotation: &weekly {every: 1w, handoff: 'Mon 09:00'}\n"
        "people:\n  - {id: alice, name: Alice}\n"
        "schedules:\n  - id: s\n    timezone: UTC\n    layers:\n"
        "      - {name: primary, rotation: {<<: *weekly, participants: [alice]}}\n"
    )
    config = load_config(path)
    assert config.schedules[0].layers[0].rotation.every == "1w"


def test_config_check_refuses_a_misspelt_section(tmp_path: Path) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text("route:\n  - {default: true, severity: SEV-3}\n")
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"{path}:1: unknown section 'route' — did you mean 'routes'?"
    assert "ok —" not in result.output


def test_an_anchor_block_is_told_how_to_stay(tmp_path: Path) -> None:
    found = problems(tmp_path, "defaults: &weekly {every: 1w}\n")
    assert found == [
        "1: unknown section 'defaults'; known: actions, auth, detection, drills, "
        "escalation_policies, heartbeats, incident_types, integrations, notifications, people, "
        "postmortem, priorities, retention, routes, schedules, server, services, severities, "
        "status_page, "
        "teams, verification "
        "(a block that only holds YAML anchors may be named x-defaults)"
    ]
