"""`warroom postmortem show|export` against a live server over a socket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import SKIP
from tests.postmortem.test_api import FULL
from warroom.cli.main import app
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

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


def test_show_prints_every_part_of_the_document(
    runtime: Runtime, live_server: str, tokens: dict[str, str]
) -> None:
    import httpx

    actor = Actor(name="rita", source="api")
    ref = runtime.flows.declare(actor=actor, title="Checkout is slow", severity="SEV-2").ref
    runtime.flows.transition(ref, "resolve", actor=actor, skip_verification=SKIP)
    token = tokens["responder"]

    code, out, _ = run(live_server, token, "show", ref)  # a fresh draft says what is missing
    assert code == 0
    for heading in ("Summary", "Impact", "Root cause"):
        assert f"\n{heading}\n  not written yet\n" in out
    assert "\nWhat went well\n  none recorded\n" in out
    assert "\n5 Whys\n  no whys yet\n" in out

    # Free text is shown as written: brackets are not Rich markup, line breaks stay.
    summary = "Checkout was slow for 45 minutes.\nOrders [retried] by hand."
    headers = {"Authorization": f"Bearer {token}"}
    put = httpx.put(
        f"{live_server}/api/v1/incidents/1/postmortem",
        json={**FULL, "summary": summary},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    code, out, _ = run(live_server, token, "show", ref)
    assert code == 0
    lines = out.splitlines()

    def section(heading: str) -> list[str]:
        """Return the indented lines under `heading`."""
        start = lines.index(heading) + 1
        end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")), None)
        return lines[start:end]

    assert section("Summary") == [
        "  Checkout was slow for 45 minutes.",
        "  Orders [retried] by hand.",
    ]
    assert section("Impact") == [f"  {FULL['impact']}"]
    assert section("Root cause") == [f"  {FULL['root_cause']}"]
    assert section("5 Whys")[0] == "  1. Why 1? Because 1."
    assert "  Technology: Memory leak in recommendations" in section("Fishbone")
    assert section("Contributing factors") == ["  • Alert threshold too high"]
    assert section("What went well") == ["  • Rollback took two minutes"]
    assert section("What went poorly") == ["  • Paging reached the wrong team first"]
    assert section("Where we got lucky") == ["  • It happened off-peak"]
    # The order of the exported document: what happened, when, why, what we learnt, what next.
    order = ["Summary", "Impact", "Timeline", "Root cause", "5 Whys", "Fishbone"]
    order += ["Contributing factors", "What went well", "What went poorly", "Where we got lucky"]
    assert [lines.index(h) for h in [*order, "Action items"]] == sorted(
        lines.index(h) for h in [*order, "Action items"]
    )
    assert "Service: — · Commander: rita · Responders: rita" in out
    assert all(line == line.rstrip() for line in lines)  # no padding out to the terminal width


def test_bad_ref_and_missing_incident(live_server: str, tokens: dict[str, str]) -> None:
    code, _, err = run(live_server, tokens["responder"], "show", "INC-x")
    assert code == 2 and "is not an incident" in err
    code, _, err = run(live_server, tokens["responder"], "export", "42")
    assert code == 1 and "no incident INC-42" in err


def test_edit_in_an_editor_or_from_a_file(
    runtime: Runtime, live_server: str, tokens: dict[str, str], tmp_path: Path
) -> None:
    import sys

    actor = Actor(name="rita", source="api")
    ref = runtime.flows.declare(actor=actor, title="Checkout is slow", severity="SEV-2").ref
    runtime.flows.transition(ref, "resolve", actor=actor, skip_verification=SKIP)
    token = tokens["responder"]

    # $EDITOR is a script that fills in the summary of the YAML it is given.
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace(\"summary: ''\", 'summary: Checkout was slow.'))\n"
    )
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": token, **PLAIN}
    edited = runner.invoke(
        app, ["postmortem", "edit", ref], env={**env, "EDITOR": f"{sys.executable} {editor}"}
    )
    assert edited.exit_code == 0, edited.output
    assert edited.stdout.strip() == "INC-1 postmortem saved (draft)"
    shown = json.loads(run(live_server, token, "show", ref, "--json")[1])
    assert shown["summary"] == "Checkout was slow."

    unchanged = runner.invoke(app, ["postmortem", "edit", ref], env={**env, "EDITOR": "true"})
    assert unchanged.exit_code == 0 and "not changed" in unchanged.stdout

    path = tmp_path / "pm.yaml"
    path.write_text(
        "status: done\nsummary: Slow.\nroot_cause: A leak.\n"
        "five_whys:\n  - question: Why did it slow down?\n    answer: A leak.\n"
        "fishbone: {Technology: [Leak]}\n"
    )
    code, out, _ = run(live_server, token, "edit", ref, "--file", str(path))
    assert code == 0 and out.strip() == "INC-1 postmortem saved (done)"
    shown = json.loads(run(live_server, token, "show", ref, "--json")[1])
    assert (shown["status"], shown["fishbone"]["Technology"]) == ("done", ["Leak"])

    path.write_text("status: done\nsummary: [unclosed\n")
    code, _, err = run(live_server, token, "edit", ref, "--file", str(path))
    assert code == 1 and err.startswith(f"error: {path} is not valid YAML")
    assert len(err.strip().splitlines()) == 1
    path.write_text("status: done\nsummary: S\nroot_cause: R\n")  # no whys: the server says
    code, _, err = run(live_server, token, "edit", ref, "--file", str(path))
    assert code == 1 and "five_whys needs at least one why" in err
    assert json.loads(run(live_server, token, "show", ref, "--json")[1])["summary"] == "Slow."
    code, _, err = run(live_server, token, "edit", ref, "--file", str(tmp_path / "none.yaml"))
    assert code == 1 and "cannot read" in err


@pytest.mark.parametrize("editor", ["false", "/nonexistent/editor"])
def test_an_editor_that_fails_is_one_clear_line(
    runtime: Runtime, live_server: str, tokens: dict[str, str], editor: str
) -> None:
    actor = Actor(name="rita", source="api")
    ref = runtime.flows.declare(actor=actor, title="Checkout is slow", severity="SEV-2").ref
    runtime.flows.transition(ref, "resolve", actor=actor, skip_verification=SKIP)
    env = {"WARROOM_URL": live_server, "WARROOM_TOKEN": tokens["responder"], **PLAIN}
    result = runner.invoke(app, ["postmortem", "edit", ref], env={**env, "EDITOR": editor})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: cannot edit in $EDITOR ({editor})")
    assert "--file" in line
