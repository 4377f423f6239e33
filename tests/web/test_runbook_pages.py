"""The runbook pages over HTTP: templates rendered without their raw HTML, the active and
archived runbook files of the incidents the viewer may see, and no way out of the folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

MARKER = "HERON-3307"  # in the restricted incident's title, so in its runbook file's name


@pytest.fixture
def config() -> WarroomConfig:
    """alice on the security team."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "vic", "name": "Vic"}, {"id": "alice", "name": "Alice"}],
            "teams": [{"id": "security", "members": ["alice"]}],
        }
    )


@pytest.fixture
def runbooks(runtime: Runtime, runbooks_dir: Path) -> tuple[str, str, str]:
    """vic (viewer), alice (security); an open public incident, a resolved one and an open
    restricted breach; a template with raw HTML and a script link; a stray file."""
    add_user(runtime, "vic", "viewer")
    add_user(runtime, "alice", "responder")
    ada = Actor(name="ada", source="api", role="admin")
    open_one = runtime.flows.declare(actor=ada, title="Search is slow")
    done = runtime.flows.declare(actor=ada, title="Login fails")
    fields = {"commander": "alice", "impact": "i", "scope": "s", "priority": "P2"}
    runtime.flows.transition(done.ref, "triage", actor=ada, fields=fields)
    runtime.flows.transition(done.ref, "mitigate", actor=ada, fields={})
    runtime.flows.transition(done.ref, "resolve", actor=ada, fields={}, skip_verification="a test")
    breach = runtime.flows.declare(
        actor=ada, title=f"Breach {MARKER}", incident_type="security", commander="alice"
    )
    assert breach.visibility == "restricted"
    (runbooks_dir / "templates" / "evil.md").write_text(
        "---\ntitle: Evil template\n---\n# Evil template\n\n"
        '<script>alert("x")</script>\n\n<img src=x onerror=alert(1)>\n\n'
        "[click](javascript:alert(1))\n\n## Steps\n\n- **one**\n",
        encoding="utf-8",
    )
    (runbooks_dir / "active" / "notes.md").write_text("not an incident's", encoding="utf-8")
    return open_one.ref, done.ref, breach.ref


def names(folder: Path) -> dict[str, str]:
    """Return each incident file's name by its incident's ref."""
    return {"-".join(path.name.split("-")[:2]): path.name for path in folder.glob("INC-*.md")}


def test_the_index_lists_templates_and_the_files_of_visible_incidents(
    client: TestClient, runbooks: tuple[str, str, str], runbooks_dir: Path
) -> None:
    open_ref, done_ref, breach_ref = runbooks
    active, archive = names(runbooks_dir / "active"), names(runbooks_dir / "archive")
    assert open_ref in active and breach_ref in active and done_ref in archive
    sign_in(client, "vic")
    page = client.get("/runbooks")
    assert page.status_code == 200
    text = page.text
    assert 'href="/runbooks/templates/generic"' in text and "General incident" in text
    assert f'href="/runbooks/active/{active[open_ref]}"' in text
    assert f'href="/runbooks/archive/{archive[done_ref]}"' in text
    assert MARKER.lower() not in text.lower() and breach_ref not in text
    assert "notes.md" not in text
    sign_in(client, "alice")
    assert f'href="/runbooks/active/{active[breach_ref]}"' in client.get("/runbooks").text


def test_a_template_is_rendered_without_its_raw_html(
    client: TestClient, runbooks: tuple[str, str, str]
) -> None:
    sign_in(client, "vic")
    page = client.get("/runbooks/templates/generic")
    assert page.status_code == 200
    assert "<h1>General incident</h1>" in page.text
    assert "<h2>Triage</h2>" in page.text  # the template's headings under the page's own
    evil = client.get("/runbooks/templates/evil").text
    assert "<script>alert" not in evil and "&lt;script&gt;" in evil
    article = evil.split('<article class="prose">')[1]
    assert "<img" not in article and "&lt;img" in article
    assert 'href="javascript' not in article  # the link stays text
    assert "<strong>one</strong>" in evil


def test_a_runbook_file_is_shown_to_those_who_see_its_incident(
    client: TestClient, runbooks: tuple[str, str, str], runbooks_dir: Path
) -> None:
    open_ref, done_ref, breach_ref = runbooks
    active, archive = names(runbooks_dir / "active"), names(runbooks_dir / "archive")
    sign_in(client, "vic")
    shown = client.get(f"/runbooks/active/{active[open_ref]}")
    assert shown.status_code == 200 and "Search is slow" in shown.text
    assert f'href="/incidents/{open_ref}"' in shown.text
    assert client.get(f"/runbooks/archive/{archive[done_ref]}").status_code == 200
    # In the other folder, or hidden from vic: the same 404.
    assert client.get(f"/runbooks/archive/{active[open_ref]}").status_code == 404
    hidden = client.get(f"/runbooks/active/{active[breach_ref]}")
    assert hidden.status_code == 404 and MARKER not in hidden.text
    sign_in(client, "alice")
    assert MARKER in client.get(f"/runbooks/active/{active[breach_ref]}").text


OUTSIDE = [
    "/runbooks/templates/..%2F..%2Fetc%2Fpasswd",
    "/runbooks/templates/..%2Factive%2Fnotes",
    "/runbooks/templates/%2E%2E",
    "/runbooks/templates/generic.md",
    "/runbooks/templates/.generic",
    "/runbooks/active/..%2Ftemplates%2Fgeneric.md",
    "/runbooks/active/notes.md",
    "/runbooks/active/%2Fetc%2Fpasswd",
    "/runbooks/archive/..%2F..%2F..%2Fetc%2Fpasswd",
    "/runbooks/active/INC-1-..%2F..%2Fnotes.md",
    "/runbooks/active/..%5C..%5Cnotes.md",
]


def test_no_name_leads_out_of_the_listing(
    client: TestClient, runbooks: tuple[str, str, str]
) -> None:
    sign_in(client, "alice")
    for path in OUTSIDE:
        answer = client.get(path)
        assert answer.status_code == 404, (path, answer.text)
        assert "root:" not in answer.text and "not an incident" not in answer.text
