"""Evidence over the API: streamed and hashed uploads, versions, the store, limits, downloads."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from warroom.audit import service as audit
from warroom.config import WarroomConfig
from warroom.evidence.models import CustodyEntry, EvidenceItem
from warroom.runtime import Runtime

URL = "/api/v1/incidents/INC-1/evidence"


@pytest.fixture
def config() -> WarroomConfig:
    """rita works from Berlin: her custody entries read in her own zone."""
    return WarroomConfig.model_validate(
        {"people": [{"id": "rita", "name": "Rita", "timezone": "Europe/Berlin"}]}
    )


@pytest.fixture
def incident(api: TestClient) -> str:
    """A declared incident, INC-1."""
    answer = api.post("/api/v1/incidents", json={"title": "Disk full", "severity": "SEV-2"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["ref"])


def upload(api: TestClient, data: bytes, filename: str = "syslog.txt", **fields: str) -> Any:
    """POST one file as multipart."""
    return api.post(URL, files={"file": (filename, data, "text/plain")}, data=fields)


def store_files(runtime: Runtime) -> list[Path]:
    """Every file under the evidence directory, temporary ones too."""
    root = runtime.evidence.store.root
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def rows(runtime: Runtime, model: type[Any]) -> int:
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_upload_is_hashed_stored_0600_and_on_the_timeline(
    api: TestClient, runtime: Runtime, incident: str
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, not a chunk's multiple
    answer = upload(api, data, note="from web-1 at 09:14")
    assert answer.status_code == 201, answer.text
    item = answer.json()
    digest = hashlib.sha256(data).hexdigest()
    assert (item["name"], item["version"], item["size"]) == ("syslog.txt", 1, len(data))
    assert item["sha256"] == digest
    assert item["media_type"] == "text/plain"
    assert item["collected_by"] == "rita"
    assert item["note"] == "from web-1 at 09:14"
    [collected] = item["custody"]
    assert collected["action"] == "collected" and collected["who"] == "rita"
    assert collected["timezone"] == "Europe/Berlin"
    assert collected["local_time"].endswith("+01:00")  # START is in winter
    assert collected["location"] == f"evidence/{digest[:2]}/{digest}"

    root = runtime.evidence.store.root
    path = root / digest[:2] / digest
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store_files(runtime) == [path]  # no temporary file left

    timeline = api.get(f"/api/v1/incidents/{incident}/timeline").json()["items"]
    [event] = [e for e in timeline if e["kind"] == "evidence_added"]
    assert "syslog.txt" in event["text"] and digest[:12] in event["text"]
    with runtime.db.session() as session:
        [entry] = audit.entries(session, action="evidence.")
        assert (entry.action, entry.actor, entry.target) == ("evidence.add", "rita", "INC-1")
        assert entry.details["sha256"] == digest


def test_same_name_twice_is_two_versions_and_same_bytes_are_stored_once(
    api: TestClient, runtime: Runtime, incident: str
) -> None:
    first = upload(api, b"first capture\n").json()
    second = upload(api, b"second capture\n").json()
    again = upload(api, b"first capture\n", "copy.txt").json()
    assert (first["version"], second["version"], again["version"]) == (1, 2, 1)
    assert first["sha256"] != second["sha256"] and again["sha256"] == first["sha256"]
    listed = api.get(URL).json()
    assert [(i["name"], i["version"]) for i in listed] == [
        ("copy.txt", 1),
        ("syslog.txt", 1),
        ("syslog.txt", 2),
    ]
    assert len(store_files(runtime)) == 2  # identical content shared
    for item in (first, second):
        got = api.get(f"{URL}/{item['id']}/content")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == item["sha256"]


def test_the_name_field_names_it_and_a_path_is_cut_to_its_last_part(
    api: TestClient, incident: str
) -> None:
    named = upload(api, b"x", "C:\\dumps\\dump.bin", name="../../etc/heap.bin").json()
    assert (named["name"], named["original_name"]) == ("heap.bin", "dump.bin")
    plain = upload(api, b"y", "capture.pcap").json()
    assert (plain["name"], plain["original_name"]) == ("capture.pcap", "capture.pcap")


def test_over_the_limit_is_413_and_keeps_nothing(
    api: TestClient, runtime: Runtime, incident: str
) -> None:
    runtime.config().server.max_evidence_bytes = 1000
    answer = upload(api, b"x" * 1001)
    assert answer.status_code == 413, answer.text
    assert "1000 bytes" in answer.json()["error"]["message"]
    assert "server.max_evidence_bytes" in answer.json()["error"]["message"]
    assert rows(runtime, EvidenceItem) == 0 and rows(runtime, CustodyEntry) == 0
    assert store_files(runtime) == []
    assert upload(api, b"x" * 1000).status_code == 201  # the limit itself is allowed


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    api: TestClient, runtime: Runtime, incident: str
) -> None:
    runtime.config().server.max_evidence_bytes = 1000
    answer = upload(api, b"x" * (2 << 20))  # past the limit and the form's 1 MiB
    assert answer.status_code == 413
    assert "server.max_evidence_bytes" in answer.json()["error"]["message"]
    assert store_files(runtime) == [] and rows(runtime, EvidenceItem) == 0


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"json": {}}, 415, "multipart/form-data"),
        ({"data": {"note": "no file"}, "files": {"other": ("a", b"a")}}, 422, "unexpected"),
        ({"files": {"file": ("", b"abc")}}, 422, "file name"),
        ({"files": {"file": ("a.txt", b"abc")}, "data": {"note": "n" * 10_001}}, 422, "note"),
    ],
)
def test_bad_uploads_are_clear_4xx_and_keep_nothing(
    api: TestClient,
    runtime: Runtime,
    incident: str,
    kwargs: dict[str, Any],
    status: int,
    words: str,
) -> None:
    answer = api.post(URL, **kwargs)
    assert answer.status_code == status, answer.text
    assert words in answer.json()["error"]["message"]
    assert store_files(runtime) == [] and rows(runtime, EvidenceItem) == 0


def test_a_viewer_reads_but_does_not_upload(
    client: TestClient, tokens: dict[str, str], runtime: Runtime, api: TestClient, incident: str
) -> None:
    item = upload(api, b"evidence").json()
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    refused = client.post(URL, files={"file": ("a", b"a")}, headers=viewer)
    assert refused.status_code == 403
    assert client.get(URL, headers=viewer).status_code == 200
    got = client.get(f"{URL}/{item['id']}/content", headers=viewer)
    assert got.content == b"evidence"
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-evidence-sha256"] == item["sha256"]
    assert "attachment" in got.headers["content-disposition"]
    custody = client.get(f"{URL}/{item['id']}", headers=viewer).json()["custody"]
    assert [(c["action"], c["who"]) for c in custody] == [("collected", "rita"), ("viewed", "vic")]
    with runtime.db.session() as session:
        [entry] = audit.entries(session, action="evidence.download")
        assert (entry.actor, entry.outcome) == ("vic", "ok")


def test_a_tampered_file_is_refused_and_audited_as_failed(
    api: TestClient, runtime: Runtime, incident: str
) -> None:
    item = upload(api, b"original bytes").json()
    path = runtime.evidence.store.root / item["sha256"][:2] / item["sha256"]
    path.write_bytes(b"altered bytes!")
    answer = api.get(f"{URL}/{item['id']}/content")
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "evidence_mismatch"
    assert "no longer matches its SHA-256" in error["message"]
    assert b"altered" not in answer.content
    with runtime.db.session() as session:
        [entry] = audit.entries(session, action="evidence.download")
        assert entry.outcome == "failed"
    custody = api.get(f"{URL}/{item['id']}").json()["custody"]
    assert [c["action"] for c in custody] == ["collected"]  # nothing was viewed
    path.unlink()
    missing = api.get(f"{URL}/{item['id']}/content")
    assert missing.status_code == 409 and "is missing" in missing.json()["error"]["message"]


def test_a_hand_over_is_recorded_on_custody_and_audited(
    api: TestClient, runtime: Runtime, incident: str
) -> None:
    item = upload(api, b"disk image").json()
    body = {"location": "forensics locker 3 (Bob)", "note": "for the insurer"}
    answer = api.post(f"{URL}/{item['id']}/custody", json=body)
    assert answer.status_code == 200, answer.text
    last = answer.json()["custody"][-1]
    assert (last["action"], last["location"], last["note"]) == (
        "transferred",
        "forensics locker 3 (Bob)",
        "for the insurer",
    )
    assert api.post(f"{URL}/{item['id']}/custody", json={"location": ""}).status_code == 422
    assert api.get(f"{URL}/999").status_code == 404
    with runtime.db.session() as session:
        actions = [e.action for e in audit.entries(session, action="evidence.")]
    assert actions == ["evidence.transfer", "evidence.add"]


def test_custody_entries_cannot_be_changed_or_deleted(
    api: TestClient, runtime: Runtime, incident: str
) -> None:
    upload(api, b"kept")
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    for statement in (
        update(CustodyEntry).values(note="rewritten"),
        delete(CustodyEntry),
        update(EvidenceItem).values(sha256="0" * 64),
    ):
        with pytest.raises(DBAPIError, match="append-only"), runtime.db.transaction() as session:
            session.execute(statement)


def test_a_bidi_control_in_a_name_is_kept_but_never_sent_as_a_file_name(
    api: TestClient, incident: str
) -> None:
    name = "invoice\u202egnp.exe"  # reads "invoiceexe.png" where the control is obeyed
    item = upload(api, b"MZ", name).json()
    assert item["name"] == name  # stored as given
    got = api.get(f"{URL}/{item['id']}/content")
    assert got.status_code == 200
    disposition = got.headers["content-disposition"]
    assert "\u202e" not in disposition and "%E2%80%AE" not in disposition.upper()
    assert "U%2B202E" in disposition.upper() or "{U+202E}" in disposition
