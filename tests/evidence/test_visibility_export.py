"""Evidence follows its incident's visibility; the postmortem export lists it with custody."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

# The restricted incident and its people: test_visibility's fixtures, asked for by name below.
from tests.api.test_visibility import MARKER, breach, config, who  # noqa: F401
from tests.helpers import finish_postmortem
from warroom.audit import service as audit
from warroom.evidence.models import EvidenceItem
from warroom.runtime import Runtime


def test_outsiders_get_404_on_every_evidence_route_of_a_restricted_incident(
    client: TestClient, runtime: Runtime, request: pytest.FixtureRequest
) -> None:
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    hidden: str = request.getfixturevalue("breach")
    base = f"/api/v1/incidents/{hidden}/evidence"
    files = {"file": (f"{MARKER}.txt", f"exfiltrated rows {MARKER}".encode(), "text/plain")}
    added = client.post(base, files=files, data={"note": MARKER}, headers=people["alice"])
    assert added.status_code == 201, added.text
    item = added.json()
    calls = [
        ("GET", base, {}),
        ("GET", f"{base}/{item['id']}", {}),
        ("GET", f"{base}/{item['id']}/content", {}),
        ("POST", f"{base}/{item['id']}/custody", {"json": {"location": "x"}}),
        ("POST", base, {"files": {"file": ("other.txt", b"outsider bytes")}}),
    ]
    for name in ("bob", "vic"):
        for method, url, extra in calls:
            answer = client.request(method, url, headers=people[name], **extra)  # type: ignore[arg-type]
            assert answer.status_code == 404, (name, method, url, answer.text)
            assert answer.json()["error"]["message"] == f"no incident {hidden}"
            assert MARKER not in answer.text
    # The outsider's upload was refused before its body was read: nothing kept.
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(EvidenceItem)) == 1
    stored = [p for p in runtime.evidence.store.root.rglob("*") if p.is_file()]
    assert len(stored) == 1
    # Nor does the public incident's ref open the restricted incident's evidence.
    public = client.get(f"/api/v1/incidents/INC-2/evidence/{item['id']}", headers=people["bob"])
    assert public.status_code == 404 and MARKER not in public.text
    assert client.get("/api/v1/incidents/INC-2/evidence", headers=people["bob"]).json() == []
    # Insiders read it.
    assert client.get(f"{base}/{item['id']}/content", headers=people["ada"]).status_code == 200
    assert client.get(base, headers=people["alice"]).json()[0]["note"] == MARKER


def test_the_postmortem_export_lists_evidence_with_hashes_and_custody(
    client: TestClient, runtime: Runtime, request: pytest.FixtureRequest
) -> None:
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    request.getfixturevalue("breach")
    client.headers.update(people["ada"])
    data = b"GET /login?user=' OR 1=1 --\n"
    sent = {"file": ("access.log", data, "text/plain")}
    note = "# not a heading <script>alert(1)</script> [link](http://x) \u202egnp.exe"
    item = client.post("/api/v1/incidents/INC-2/evidence", files=sent, data={"note": note}).json()
    moved = client.post(
        f"/api/v1/incidents/INC-2/evidence/{item['id']}/custody",
        json={"location": "| locker 3 |", "note": "to <b>legal</b>"},
    )
    assert moved.status_code == 200
    resolved = client.post(
        "/api/v1/incidents/INC-2/resolve", json={"skip_verification": "checked by hand"}
    )
    assert resolved.status_code == 200, resolved.text
    finish_postmortem(client, "INC-2")
    exported = client.post("/api/v1/incidents/INC-2/postmortem/export")
    assert exported.status_code == 200, exported.text
    paths = [Path(p) for p in exported.json()["paths"]]
    text = next(p for p in paths if p.suffix == ".md").read_text()
    html = next(p for p in paths if p.suffix == ".html").read_text()
    digest = hashlib.sha256(data).hexdigest()

    section = text.split("## Evidence", 1)[1]
    assert f"| access.log | 1 | {len(data)} | `{digest}` | ada |" in section
    assert "### Custody: access.log, version 1" in section
    assert "collected by ada, at evidence/" in section
    assert "transferred by ada, at \\| locker 3 | — to \\<b>legal\\</b>" in section
    assert "exported by ada" in section
    assert re.search(r"(?<!\\)<(script|b)>", text) is None  # every < escaped
    assert "— \\# not a heading \\<script>alert(1)\\</script> \\[link](http://x)" in section
    assert "(http://x) {U+202E}gnp.exe" in section and "\u202e" not in text + html
    assert "(http://x) {U+202E}gnp.exe" in html

    assert "<h2>Evidence</h2>" in html and digest in html
    assert "to &lt;b&gt;legal&lt;/b&gt;" in html and "<b>legal" not in html
    with runtime.db.session() as session:
        [entry] = audit.entries(session, action="evidence.export")
        assert entry.details["evidence_ids"] == [item["id"]] and entry.actor == "ada"
    custody = client.get(f"/api/v1/incidents/INC-2/evidence/{item['id']}").json()["custody"]
    assert [c["action"] for c in custody] == ["collected", "transferred", "exported"]


def test_an_export_without_evidence_has_no_evidence_section(
    client: TestClient, request: pytest.FixtureRequest
) -> None:
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    request.getfixturevalue("breach")
    client.headers.update(people["ada"])
    client.post("/api/v1/incidents/INC-2/resolve", json={"skip_verification": "by hand"})
    finish_postmortem(client, "INC-2")
    paths = client.post("/api/v1/incidents/INC-2/postmortem/export").json()["paths"]
    assert "## Evidence" not in next(Path(p) for p in paths if p.endswith(".md")).read_text()
