"""`warroom postmortem show|export` against a live server over a socket."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.helpers import SKIP
from tests.postmortem.test_api import FULL
from warroom.app import Runtime
from warroom.cli.main import app
from warroom.incidents.service import Actor

runner = CliRunner()
PLAIN = {"COLUMNS": "200", "FORCE_COLOR": None, "TTY_COMPATIBLE": None}


def run(url: str, token: str, *args: str) -> tuple[int, str, str]:
    env = {"WARROOM_URL": url, "WARROOM_TOKEN": token, **PLAIN}
    result = runner.invoke(app, ["postmortem", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_show_and_export(runtime: Runtime, live_server: str, tokens: dict[str, str]) -> None:
    actor = Actor(name="rita", source="api")
    ref = runtime.flows.declare(actor=actor, title="Checkout is slow", severity="SEV-2").ref
    token = tokens["responder"]
    code, _, err = run(live_server, token, "show", "1")
    assert code == 1 and "INC-1 is detected: its postmortem starts when it is resolved" in err
    runtime.flows.transition(ref, "resolve", actor=actor, skip_verification=SKIP)

    code, out, _ = run(live_server, token, "show", ref)
    assert code == 0
    assert "Postmortem INC-1: Checkout is slow" in out
    assert "SEV-2 · draft · required, due 2026-03-09 09:00" in out
    assert "People: —" in out

    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    httpx.put(f"{live_server}/api/v1/incidents/1/postmortem", json=FULL, headers=headers)
    code, out, _ = run(live_server, token, "show", ref, "--json")
    assert code == 0 and json.loads(out)["root_cause"] == FULL["root_cause"]

    code, out, _ = run(live_server, token, "export", ref)
    assert code == 0
    paths = out.split()
    assert [Path(p).name for p in paths] == [
        "INC-1-checkout-is-slow.fishbone.svg",
        "INC-1-checkout-is-slow.timeline.svg",
        "INC-1-checkout-is-slow.postmortem.md",
        "INC-1-checkout-is-slow.postmortem.html",
    ]
    assert all(Path(p).is_file() for p in paths)
    code, out, _ = run(live_server, token, "export", ref, "--json")
    assert code == 0 and json.loads(out)["paths"] == paths


def test_bad_ref_and_missing_incident(live_server: str, tokens: dict[str, str]) -> None:
    code, _, err = run(live_server, tokens["responder"], "show", "INC-x")
    assert code == 2 and "is not an incident" in err
    code, _, err = run(live_server, tokens["responder"], "export", "42")
    assert code == 1 and "no incident INC-42" in err
