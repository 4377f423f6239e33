"""The config hub loads no vendor SDK: phases and the CLI import their settings, not clients."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

VENDOR_SDKS = ("slack_sdk", "httpx", "smtplib", "icalendar")
VENDOR_CLIENTS = (
    *(
        f"warroom.notify.{name}"
        for name in ("slack", "smtp", "zoom", "pagerduty", "webhook", "statuspage", "jira")
    ),
    "warroom.notify.adapters",
    "warroom.oncall.pagerduty",
)


def loaded_by(module: str) -> set[str]:
    """Return the modules a fresh interpreter has loaded after importing `module`."""
    code = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(answer.stdout))


@pytest.mark.parametrize(
    "module", ["warroom.incidents.service", "warroom.cli.main", "warroom.config"]
)
def test_no_vendor_sdk_is_loaded(module: str) -> None:
    loaded = loaded_by(module)
    assert not [m for m in VENDOR_SDKS if m in loaded], f"{module} loads a vendor SDK"
    assert not [m for m in VENDOR_CLIENTS if m in loaded], f"{module} loads a vendor client"


def test_the_check_would_see_a_vendor_sdk() -> None:
    # The composition root does build the clients: the check above can fail.
    loaded = loaded_by("warroom.runtime")
    assert "warroom.notify.adapters" in loaded or "warroom.oncall.pagerduty" in loaded
