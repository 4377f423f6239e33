"""deploy/systemd: both units run real warroom commands, sandboxed; systemd accepts them.

`systemd-analyze verify` runs where it is installed (not needed in CI: the test skips);
it warns, without failing, about unknown options and bad values, so any output fails here.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.files import DEPLOY, SETTINGS, check_warroom_argv, unit_options

UNITS = {
    name: unit_options(DEPLOY / "systemd" / f"{name}.service")
    for name in ("warroom", "warroom-engine")
}
SANDBOX = {
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "ReadWritePaths": "/var/lib/warroom",
    "StateDirectory": "warroom",
    "StateDirectoryMode": "0700",  # warroom tightens a wider data directory at each start
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter": "@system-service",
    "Restart": "on-failure",
    "TimeoutStopSec": "15",
    "ExecReload": "/bin/kill -HUP $MAINPID",  # both reload warroom.yaml on SIGHUP
}


@pytest.mark.parametrize("name", UNITS)
def test_units_are_sandboxed(name: str) -> None:
    service = UNITS[name]["Service"]
    for option, value in SANDBOX.items():
        assert service.get(option) == [value], f"{name}.service: {option}={value} is missing"
    user = service.get("User", []) + service.get("DynamicUser", [])
    assert user and user != ["root"], f"{name}.service must not run as root"
    assert UNITS[name]["Install"]["WantedBy"] == ["multi-user.target"]


def environment(name: str) -> dict[str, str]:
    pairs = [shlex.split(value)[0] for value in UNITS[name]["Service"].get("Environment", [])]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.mark.parametrize("name", UNITS)
def test_units_set_only_real_settings_inside_the_state_directory(name: str) -> None:
    env = environment(name)
    unknown = {key for key in env if key.startswith("WARROOM_")} - SETTINGS
    assert not unknown, f"{name}.service sets settings that do not exist: {unknown}"
    state = "/var/lib/" + UNITS[name]["Service"]["StateDirectory"][0]
    assert env["WARROOM_DATA_DIR"] == state == UNITS[name]["Service"]["WorkingDirectory"][0]
    assert env["WARROOM_RUNBOOKS_DIR"].startswith(state + "/")  # writable under ProtectSystem


def test_serve_runs_without_engine_and_the_engine_unit_runs_it() -> None:
    (serve,) = UNITS["warroom"]["Service"]["ExecStart"]
    params = check_warroom_argv(shlex.split(serve))
    assert params["no_engine"] is True and params["host"] == "127.0.0.1"
    (engine,) = UNITS["warroom-engine"]["Service"]["ExecStart"]
    assert shlex.split(engine)[1:] == ["engine"]
    check_warroom_argv(shlex.split(engine))
    assert environment("warroom") == environment("warroom-engine")  # one installation


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    # verify insists that ExecStart's program exists: point it at this installation's warroom.
    warroom = str(Path(sys.executable).parent / "warroom")
    for name in UNITS:
        text = (DEPLOY / "systemd" / f"{name}.service").read_text(encoding="utf-8")
        (tmp_path / f"{name}.service").write_text(
            text.replace("/opt/warroom/venv/bin/warroom", warroom), encoding="utf-8"
        )
    units = [str(tmp_path / f"{name}.service") for name in UNITS]
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SYSTEMD_LOG_LEVEL": "notice", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    # It can fail: a misspelt option is reported.
    broken = tmp_path / "broken.service"
    accepted = Path(units[0]).read_text(encoding="utf-8")
    broken.write_text(accepted.replace("ProtectHome=yes", "ProtectHomes=yes"), encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ProtectHomes" in done.stderr
