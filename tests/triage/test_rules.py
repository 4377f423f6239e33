"""Triage's rules reach incidents only through the rules the composition root registers."""

from __future__ import annotations

import subprocess
import sys

from warroom.incidents.lifecycle import Rules
from warroom.mitigation.gate import VerificationGate
from warroom.postmortem.gate import PostmortemGate
from warroom.runtime import Runtime
from warroom.triage.service import Assessment, Command


def test_incidents_loads_no_phase_package() -> None:
    code = (
        "import sys, warroom.incidents.flows, warroom.incidents.service\n"
        "print(' '.join(sorted({m.split('.')[1] for m in sys.modules"
        " if m.startswith('warroom.')})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    # organisation (people and teams) sits below incidents (ADR 006): a commander is checked
    # against the configured people without loading any phase; so does the audit log, which
    # incidents write to (grants, visibility, access to restricted ones: ADR 011).
    assert out.split() == ["audit", "core", "incidents", "organisation", "storage"]


def test_runtime_registers_the_rules_in_checking_order(runtime: Runtime) -> None:
    rules = runtime.flows.rules
    assert isinstance(rules, Rules)
    kinds = [type(rule) for rule in rules.lifecycle]
    assert kinds == [Assessment, VerificationGate, PostmortemGate]
    assert isinstance(rules.command, Command)
    assert runtime.intake.incidents.rules is rules  # the intake passes the same rules
