"""The incident routes: declare, read, change, move through the lifecycle, list."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.helpers import SKIP, finish_postmortem, verify
from warroom.core.clock import FrozenClock


def declare(api: TestClient, **fields: object) -> dict:  # type: ignore[type-arg]
    body = {"title": "Checkout is slow", "severity": "SEV-2", **fields}
    response = api.post("/api/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_declare_sets_number_status_milestones_and_checklist(api: TestClient) -> None:
    first = declare(api, service="checkout", summary="p99 latency 4 s")
    second = declare(api, title="Second")
    assert (first["number"], first["ref"]) == (1, "INC-1")
    assert second["ref"] == "INC-2"
    assert first["status"] == "detected"
    assert first["severity"] == "SEV-2"
    assert first["created_by"] == "rita"
    assert first["detected_at"].startswith("2026-03-02T09:00:00")
    assert first["acknowledged_at"] is None
    assert first["runbook_template"] == "generic"
    sections = [item["section"] for item in first["checklist"]]
    assert sections[0] == "Containment" and sections[-1] == "Verification"
    assert [e["kind"] for e in first["timeline"]] == ["declared", "commander_changed"]
    # no schedule or team lead for this service: the reporter is the first IC, with the reason
    assert first["commander"] == "rita"
    assert "the reporter" in first["timeline"][1]["data"]["reason"]


def test_full_lifecycle_with_durations(api: TestClient, clock: FrozenClock) -> None:
    started = (clock.now() - timedelta(minutes=7)).isoformat()
    ref = declare(api, started_at=started)["ref"]
    clock.advance(timedelta(minutes=2))
    assert api.post(f"/api/v1/incidents/{ref}/acknowledge").json()["acknowledged_by"] == "rita"
    clock.advance(timedelta(minutes=3))
    triaged = api.post(
        f"/api/v1/incidents/{ref}/triage",
        json={
            "commander": "alice",
            "impact": "Checkout fails for 20%",
            "scope": "EU",
            "priority": "P1",
            "note": "on-call is IC",
        },
    ).json()
    # rita (the reporter) is IC; naming alice proposes a handoff that alice must accept
    assert triaged["status"] == "triaged" and triaged["commander"] == "rita"
    assert triaged["pending_commander"] == "alice"
    clock.advance(timedelta(minutes=10))
    assert api.post(f"/api/v1/incidents/{ref}/mitigate").json()["status"] == "mitigated"
    clock.advance(timedelta(minutes=45))
    assert verify(api, ref) == 2
    resolved = api.post(f"/api/v1/incidents/{ref}/resolve", json={"note": "verified"}).json()
    assert resolved["durations"] == {
        "time_to_detect": 420.0,
        "time_to_acknowledge": 120.0,
        "time_to_mitigate": 900.0,
        "time_to_resolve": 3600.0,
    }
    finish_postmortem(api, ref)  # a SEV-2 closes once its postmortem is done
    closed = api.post(f"/api/v1/incidents/{ref}/close").json()
    assert closed["status"] == "closed" and closed["allowed_actions"] == []
    kinds = [e["kind"] for e in api.get(f"/api/v1/incidents/{ref}/timeline").json()["items"]]
    assert kinds == [
        "declared",
        "commander_changed",
        "acknowledged",
        "commander_proposed",
        "field_changed",
        "field_changed",
        "field_changed",
        "triaged",
        "mitigated",
        "checklist",
        "checklist",
        "resolved",
        "postmortem",
        "closed",
    ]


def test_commander_handoff_needs_acceptance(
    client: TestClient, tokens: dict[str, str], runtime: object
) -> None:
    rita = {"Authorization": f"Bearer {tokens['responder']}"}
    ada = {"Authorization": f"Bearer {tokens['admin']}"}
    vic = {"Authorization": f"Bearer {tokens['viewer']}"}
    ref = client.post("/api/v1/incidents", json={"title": "x"}, headers=rita).json()["ref"]
    proposed = client.post(
        f"/api/v1/incidents/{ref}/commander",
        headers=rita,
        json={"person": "alice", "reason": "she knows checkout"},
    ).json()
    assert (proposed["commander"], proposed["pending_commander"]) == ("rita", "alice")
    assert "stays in charge until alice accepts" in proposed["timeline"][-1]["text"]
    # The answer says in plain words what happened and what alice must do.
    assert proposed["notices"] == [
        "alice is proposed as Incident Commander; rita stays in charge until alice accepts "
        f"(POST /api/v1/incidents/{ref}/commander/accept) or declines "
        f"(POST /api/v1/incidents/{ref}/commander/decline)"
    ]
    # only alice, or an admin on her behalf, may accept
    refused = client.post(f"/api/v1/incidents/{ref}/commander/accept", headers=rita)
    assert refused.status_code == 403
    assert client.post(f"/api/v1/incidents/{ref}/commander/accept", headers=vic).status_code == 403
    accepted = client.post(f"/api/v1/incidents/{ref}/commander/accept", headers=ada).json()
    assert (accepted["commander"], accepted["pending_commander"]) == ("alice", None)
    assert accepted["notices"] == []
    assert (
        accepted["timeline"][-1]["text"] == "alice accepted command from rita (ada on their behalf)"
    )
    again = client.post(f"/api/v1/incidents/{ref}/commander/accept", headers=ada)
    assert again.status_code == 409
    same = client.post(f"/api/v1/incidents/{ref}/commander", headers=rita, json={"person": "alice"})
    assert same.status_code == 409
    client.post(f"/api/v1/incidents/{ref}/commander", headers=rita, json={"person": "rita"})
    declined = client.post(f"/api/v1/incidents/{ref}/commander/decline", headers=rita).json()
    assert (declined["commander"], declined["pending_commander"]) == ("alice", None)


def test_acknowledge_twice_writes_one_event(api: TestClient) -> None:
    ref = declare(api)["ref"]
    api.post(f"/api/v1/incidents/{ref}/acknowledge")
    again = api.post(f"/api/v1/incidents/{ref}/acknowledge")
    assert again.status_code == 200
    assert [e["kind"] for e in again.json()["timeline"]].count("acknowledged") == 1


def test_triage_lists_missing_assessment(api: TestClient) -> None:
    ref = declare(api)["ref"]
    response = api.post(f"/api/v1/incidents/{ref}/triage", json={"impact": "some"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["details"]["missing"] == ["scope", "priority"]
    assert "set scope, priority" in error["message"]
    # nothing half-written: the impact given with the failed triage was not kept
    incident = api.get(f"/api/v1/incidents/{ref}").json()
    assert incident["impact"] is None and incident["status"] == "detected"
    assert [e["kind"] for e in incident["timeline"]] == ["declared", "commander_changed"]


def test_illegal_transition_is_409_naming_allowed_moves(api: TestClient) -> None:
    ref = declare(api)["ref"]
    resolved = api.post(f"/api/v1/incidents/{ref}/resolve", json={"skip_verification": SKIP})
    assert resolved.status_code == 200, resolved.text
    response = api.post(f"/api/v1/incidents/{ref}/mitigate")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["details"]["allowed"] == ["close", "reopen"]
    assert "Allowed from resolved: close, reopen" in error["message"]


def test_forward_skip_and_reopen(api: TestClient, clock: FrozenClock) -> None:
    ref = declare(api, severity="SEV-3")["ref"]  # needs no postmortem to close
    clock.advance(timedelta(minutes=5))
    body = {"note": "false alarm", "skip_verification": "false alarm"}
    resolved = api.post(f"/api/v1/incidents/{ref}/resolve", json=body).json()
    assert resolved["status"] == "resolved"
    assert resolved["mitigated_at"] == resolved["resolved_at"]
    assert resolved["triaged_at"] is None
    reopened = api.post(f"/api/v1/incidents/{ref}/reopen").json()
    assert reopened["status"] == "triaged"
    assert reopened["resolved_at"] is None and reopened["mitigated_at"] is None
    # Reopening means verification did not hold: the skipped items are open again.
    assert [e["kind"] for e in reopened["timeline"]][-2:] == ["reopened", "checklist"]
    assert api.post(f"/api/v1/incidents/{ref}/close").status_code == 409
    closed = api.post(f"/api/v1/incidents/{ref}/close", json={"skip_verification": "dup"})
    assert closed.status_code == 200
    assert api.post(f"/api/v1/incidents/{ref}/reopen").status_code == 409


def test_patch_records_each_change_with_reason(api: TestClient) -> None:
    ref = declare(api)["ref"]
    response = api.patch(
        f"/api/v1/incidents/{ref}",
        json={"severity": "sev1", "title": "Checkout down", "reason": "errors at 100%"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["severity"] == "SEV-1" and body["title"] == "Checkout down"
    severity_event = next(e for e in body["timeline"] if e["kind"] == "severity_changed")
    assert severity_event["data"] == {
        "field": "severity",
        "from": "SEV-2",
        "to": "SEV-1",
        "reason": "errors at 100%",
    }
    assert severity_event["actor"] == "rita" and severity_event["key_event"] is True
    # a PATCH that changes nothing writes nothing
    same = api.patch(f"/api/v1/incidents/{ref}", json={"severity": "SEV-1"}).json()
    assert len(same["timeline"]) == len(body["timeline"])


def test_restricted_and_type_defaults(api: TestClient) -> None:
    security = declare(api, title="Data breach", incident_type="security", severity=None)
    assert security["severity"] == "SEV-1"
    assert security["visibility"] == "restricted"
    assert security["runbook_template"] == "security-breach"
    assert any(i["section"] == "Eradication" for i in security["checklist"])
    plain = declare(api, title="Typo on pricing page", severity="SEV-4")
    assert plain["visibility"] == "public"


def test_note_and_backdating(api: TestClient, clock: FrozenClock) -> None:
    ref = declare(api)["ref"]
    earlier = (clock.now() - timedelta(minutes=1)).isoformat()
    note = api.post(
        f"/api/v1/incidents/{ref}/timeline",
        json={"text": "Dashboards show the spike", "at": earlier, "key_event": True},
    )
    assert note.status_code == 201, note.text
    assert note.json()["kind"] == "note" and note.json()["key_event"] is True
    future = (clock.now() + timedelta(hours=1)).isoformat()
    rejected = api.post(f"/api/v1/incidents/{ref}/timeline", json={"text": "x", "at": future})
    assert rejected.status_code == 422
    assert len(api.get(f"/api/v1/incidents/{ref}/timeline").json()["items"]) == 3


def test_timeline_has_no_edit_or_delete_route(api: TestClient) -> None:
    ref = declare(api)["ref"]
    event_id = api.get(f"/api/v1/incidents/{ref}/timeline").json()["items"][0]["id"]
    for method in ("PUT", "PATCH", "DELETE"):
        assert api.request(method, f"/api/v1/incidents/{ref}/timeline").status_code == 405
        assert api.request(method, f"/api/v1/incidents/{ref}/timeline/{event_id}").status_code in (
            404,
            405,
        )
    assert api.delete(f"/api/v1/incidents/{ref}").status_code == 405


def test_list_filters_and_cursor_pagination(api: TestClient, clock: FrozenClock) -> None:
    for index in range(7):
        declare(
            api,
            title=f"Incident {index}",
            severity="SEV-1" if index % 2 else "SEV-3",
            service="checkout" if index < 3 else "search",
        )
        clock.advance(timedelta(days=1))
    resolved = api.post("/api/v1/incidents/INC-2/resolve", json={"skip_verification": SKIP})
    assert resolved.status_code == 200, resolved.text
    first = api.get("/api/v1/incidents", params={"limit": 3}).json()
    assert [i["number"] for i in first["items"]] == [7, 6, 5]
    second = api.get(
        "/api/v1/incidents", params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()
    assert [i["number"] for i in second["items"]] == [4, 3, 2]
    third = api.get(
        "/api/v1/incidents", params={"limit": 3, "cursor": second["next_cursor"]}
    ).json()
    assert [i["number"] for i in third["items"]] == [1] and third["next_cursor"] is None

    def numbers(**params: object) -> list[int]:
        return [i["number"] for i in api.get("/api/v1/incidents", params=params).json()["items"]]

    assert numbers(severity="SEV-1") == [6, 4, 2]
    assert numbers(status="resolved") == [2]
    assert numbers(status="detected,triaged") == [7, 6, 5, 4, 3, 1]
    assert numbers(service="checkout") == [3, 2, 1]
    assert numbers(type="default", severity="sev1", service="search") == [6, 4]
    assert numbers(since="2026-03-07T00:00:00Z") == [7, 6]
    assert numbers(type="security") == []


def test_ref_forms(api: TestClient) -> None:
    declare(api)
    for ref in ("1", "INC-1", "inc-1"):
        assert api.get(f"/api/v1/incidents/{ref}").json()["number"] == 1


def test_severities_reference(api: TestClient) -> None:
    answer = api.get("/api/v1/severities").json()
    assert answer["rule"] == "When unsure between two levels, choose the higher one."
    assert [s["id"] for s in answer["severities"]] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4"]
    assert answer["severities"][0]["description"].startswith("System-wide outage")
    assert answer["severities"][1]["exec_email"] is True
    assert answer["priorities"] == ["P1", "P2", "P3", "P4"]


def test_roles(api: TestClient) -> None:
    ref = declare(api)["ref"]
    detail = api.get(f"/api/v1/incidents/{ref}").json()
    assert [(r["role"], r["person"]) for r in detail["roles"]] == [("reporter", "rita")]
    api.post(f"/api/v1/incidents/{ref}/roles", json={"role": "scribe", "person": "bob"})
    swapped = api.post(f"/api/v1/incidents/{ref}/roles", json={"role": "scribe", "person": "eve"})
    assert swapped.json()["timeline"][-1]["text"] == "eve is Scribe (was bob)"
    for person in ("dan", "fay"):
        api.post(f"/api/v1/incidents/{ref}/roles", json={"role": "sme", "person": person})
    held = {(r["role"], r["person"]) for r in api.get(f"/api/v1/incidents/{ref}").json()["roles"]}
    assert held == {("reporter", "rita"), ("scribe", "eve"), ("sme", "dan"), ("sme", "fay")}
    released = api.post(
        f"/api/v1/incidents/{ref}/roles/release", json={"role": "sme", "person": "dan"}
    )
    assert released.json()["timeline"][-1]["text"] == "dan is no longer Subject-matter expert"
    again = api.post(
        f"/api/v1/incidents/{ref}/roles/release", json={"role": "sme", "person": "dan"}
    )
    assert again.status_code == 409
    bad = api.post(f"/api/v1/incidents/{ref}/roles", json={"role": "chef", "person": "x"})
    assert bad.status_code == 422 and "unknown role 'chef'" in bad.json()["error"]["message"]
    ic = api.post(f"/api/v1/incidents/{ref}/roles", json={"role": "commander", "person": "x"})
    assert ic.status_code == 422 and "handoff" in ic.json()["error"]["message"]
