"""What the incident side puts on the audit log: restricted access, refusals, grants,
visibility, exports, action runs and reloads — each with who, from where and why."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.audit.conftest import logged
from warroom.audit.verify import verify
from warroom.runtime import Runtime

INCIDENTS = "/api/v1/incidents"


def test_every_access_to_a_restricted_incident_is_on_the_log(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, runtime: Runtime
) -> None:
    assert client.get(f"{INCIDENTS}/{breach}", headers=who["alice"]).status_code == 200
    assert client.get(f"{INCIDENTS}/{breach}/timeline", headers=who["ada"]).status_code == 200
    assert client.get(f"{INCIDENTS}/INC-2", headers=who["alice"]).status_code == 200  # public
    assert logged(runtime, "incident.access") == [
        {
            "action": "incident.access",
            "actor": "alice",
            "client": "testclient",
            "target": breach,
            "outcome": "ok",
            "details": {"request": f"GET {INCIDENTS}/{breach}"},
        },
        {
            "action": "incident.access",
            "actor": "ada",
            "client": "testclient",
            "target": breach,
            "outcome": "ok",
            "details": {"request": f"GET {INCIDENTS}/{breach}/timeline"},
        },
    ]


def test_a_hidden_incident_is_a_404_to_the_caller_and_a_denial_on_the_log(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, runtime: Runtime
) -> None:
    answer = client.post(f"{INCIDENTS}/{breach}/timeline", json={"text": "x"}, headers=who["bob"])
    assert answer.status_code == 404
    missing = client.get(f"{INCIDENTS}/INC-99", headers=who["bob"])
    assert missing.status_code == 404
    denied = logged(runtime, "incident.access")
    assert denied == [
        {
            "action": "incident.access",
            "actor": "bob",
            "client": "testclient",
            "target": breach,
            "outcome": "denied",
            "details": {"request": f"POST {INCIDENTS}/{breach}/timeline"},
        }
    ]  # INC-99 does not exist: nothing was denied


def test_a_refused_role_is_a_denial_on_the_log(
    client: TestClient, who: dict[str, dict[str, str]], runtime: Runtime
) -> None:
    answer = client.post(INCIDENTS, json={"title": "viewers cannot"}, headers=who["vic"])
    assert answer.status_code == 403
    (entry,) = logged(runtime, "access.denied")
    assert entry["actor"] == "vic" and entry["outcome"] == "denied"
    assert entry["details"]["request"] == f"POST {INCIDENTS}"
    assert "responder" in entry["details"]["reason"]


def test_grants_and_visibility_changes_are_on_the_log(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, runtime: Runtime
) -> None:
    grant = {"person": "bob", "reason": "owns the login service"}
    assert client.post(f"{INCIDENTS}/{breach}/access", json=grant, headers=who["alice"]).is_success
    public = {"visibility": "public", "reason": "disclosed to customers"}
    changed = client.patch(f"{INCIDENTS}/{breach}", json=public, headers=who["ada"])
    assert changed.status_code == 200, changed.text
    (granted,) = logged(runtime, "incident.grant")
    assert (granted["actor"], granted["target"]) == ("alice", breach)
    assert granted["details"] == {
        "person": "bob",
        "kind": "grant",
        "reason": "owns the login service",
    }
    (visibility,) = logged(runtime, "incident.visibility")
    assert visibility["actor"] == "ada"
    assert visibility["details"] == {
        "from": "restricted",
        "to": "public",
        "reason": "disclosed to customers",
    }


def test_exports_are_on_the_log(
    client: TestClient, who: dict[str, dict[str, str]], breach: str, runtime: Runtime
) -> None:
    csv = client.get("/api/v1/metrics/incidents.csv?since=7d", headers=who["ada"])
    assert csv.status_code == 200
    (export,) = logged(runtime, "report.export")
    assert export["actor"] == "ada"
    rows = len(csv.text.strip().splitlines()) - 1  # the CSV's own header row
    assert export["details"] == {
        "format": "csv",
        "incidents": rows,
        "request": "GET /api/v1/metrics/incidents.csv?since=7d",
    }


def test_a_reload_says_who_and_which_file(
    client: TestClient, who: dict[str, dict[str, str]], runtime: Runtime, tmp_path: Path
) -> None:
    import hashlib

    path = tmp_path / "warroom.yaml"
    path.write_text("services:\n  - {id: checkout}\n")
    runtime.settings.config = path
    assert client.post("/-/reload", headers=who["ada"]).status_code == 200
    path.write_text("services:\n  - {name: no id}\n")
    assert client.post("/-/reload", headers=who["ada"]).status_code == 422
    good, bad = logged(runtime, "config.reload")
    assert (good["actor"], good["outcome"], good["target"]) == ("ada", "ok", str(path))
    assert (
        good["details"]["sha256"] == hashlib.sha256(b"services:\n  - {id: checkout}\n").hexdigest()
    )
    assert bad["outcome"] == "failed"
    assert bad["details"] == {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert verify(runtime.db).ok
