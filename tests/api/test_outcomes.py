"""How an incident ends: false alarms, the postmortem owed by the worst severity, waivers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from warroom.core.clock import FrozenClock
from warroom.incidents.models import Incident, TimelineEvent
from warroom.runtime import Runtime

INCIDENTS = "/api/v1/incidents"


def declare(api: TestClient, severity: str, title: str = "Checkout is down") -> str:
    answer = api.post(INCIDENTS, json={"title": title, "severity": severity})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["ref"])


def as_role(api: TestClient, tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def timeline_texts(api: TestClient, ref: str) -> list[str]:
    return [event["text"] for event in api.get(f"{INCIDENTS}/{ref}/timeline").json()["items"]]


def test_a_false_alarm_skips_verification_owes_no_postmortem_and_closes(api: TestClient) -> None:
    ref = declare(api, "SEV-1")
    answer = api.post(f"{INCIDENTS}/{ref}/resolve", json={"false_alarm": "a test alert"})
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    assert detail["status"] == "resolved" and detail["outcome"] == "false_alarm"
    assert detail["outcome_reason"] == "a test alert"
    assert "Ended as a false alarm: a test alert" in detail["notices"]
    verification = [i for i in detail["checklist"] if i["section"] == "Verification"]
    assert verification and all(
        i["skipped_reason"] == "false alarm: a test alert" for i in verification
    )
    postmortem = api.get(f"{INCIDENTS}/{ref}/postmortem").json()
    assert postmortem["required"] is False
    assert api.post(f"{INCIDENTS}/{ref}/close").status_code == 200
    assert any("as a false alarm: a test alert" in text for text in timeline_texts(api, ref))


def test_a_false_alarm_reopened_owes_its_postmortem_again(api: TestClient) -> None:
    ref = declare(api, "SEV-2")
    assert api.post(f"{INCIDENTS}/{ref}/resolve", json={"false_alarm": "noise"}).status_code == 200
    reopened = api.post(f"{INCIDENTS}/{ref}/reopen", json={"note": "it was real"}).json()
    assert reopened["outcome"] is None and reopened["outcome_reason"] is None
    # Reopening opened the Verification items again; this time they are checked by hand.
    answer = api.post(f"{INCIDENTS}/{ref}/resolve", json={"skip_verification": "by hand"})
    assert answer.status_code == 200, answer.text
    assert api.get(f"{INCIDENTS}/{ref}/postmortem").json()["required"] is True
    assert api.post(f"{INCIDENTS}/{ref}/close").status_code == 409


def test_false_alarm_and_waiver_only_where_they_mean_something(
    api: TestClient, runtime: Runtime
) -> None:
    ref = declare(api, "SEV-3")
    for action, body in [
        ("triage", {"false_alarm": "noise"}),
        ("resolve", {"waive_postmortem": "not needed"}),
        ("resolve", {"false_alarm": "   "}),
    ]:
        answer = api.post(f"{INCIDENTS}/{ref}/{action}", json=body)
        assert answer.status_code == 422, answer.text
    error = api.post(f"{INCIDENTS}/{ref}/resolve", json={"false_alarm": "  "}).json()["error"]
    assert "false_alarm" in error["message"] and "blank" in error["message"]
    with runtime.db.session() as session:
        incident = session.scalars(select(Incident)).one()
        assert incident.status == "detected" and incident.outcome is None


def test_lowering_the_severity_does_not_undo_the_postmortem(api: TestClient) -> None:
    ref = declare(api, "SEV-3")
    assert api.patch(f"{INCIDENTS}/{ref}", json={"severity": "critical"}).json()["severity"] == (
        "SEV-1"
    )
    lowered = api.patch(f"{INCIDENTS}/{ref}", json={"severity": "SEV-4"}).json()
    assert lowered["severity"] == "SEV-4" and lowered["peak_severity"] == "SEV-1"
    api.post(f"{INCIDENTS}/{ref}/resolve", json={"skip_verification": "checked by hand"})
    answer = api.post(f"{INCIDENTS}/{ref}/close")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "postmortem_not_done"
    assert "SEV-4, SEV-1 at its worst" in answer.json()["error"]["message"]


def test_only_an_admin_waives_a_required_postmortem_with_a_reason(
    api: TestClient, tokens: dict[str, str], runtime: Runtime
) -> None:
    ref = declare(api, "SEV-1")
    api.post(f"{INCIDENTS}/{ref}/resolve", json={"skip_verification": "checked by hand"})
    body = {"waive_postmortem": "covered by the INC-9 review"}
    refused = api.post(f"{INCIDENTS}/{ref}/close", json=body)  # the responder
    assert refused.status_code == 403
    assert "only an admin can waive" in refused.json()["error"]["message"]
    assert api.get(f"{INCIDENTS}/{ref}").json()["status"] == "resolved"
    admin = as_role(api, tokens, "admin")
    answer = api.post(f"{INCIDENTS}/{ref}/close", json=body, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "closed"
    with runtime.db.session() as session:
        waived = session.scalars(
            select(TimelineEvent).where(TimelineEvent.kind == "postmortem_waived")
        ).one()
        assert waived.actor == "ada" and waived.key_event
        assert waived.text == "Postmortem waived by ada: covered by the INC-9 review"
    postmortem = api.get(f"{INCIDENTS}/{ref}/postmortem").json()
    assert postmortem["required"] is False


def test_a_waiver_of_nothing_is_refused(api: TestClient, tokens: dict[str, str]) -> None:
    ref = declare(api, "SEV-4")
    admin = as_role(api, tokens, "admin")
    body = {"waive_postmortem": "why not", "skip_verification": "n/a"}
    answer = api.post(f"{INCIDENTS}/{ref}/close", json=body, headers=admin)
    assert answer.status_code == 409 and "owes no postmortem" in answer.json()["error"]["message"]


def test_false_alarms_are_counted_apart(api: TestClient, clock: FrozenClock) -> None:
    real = declare(api, "SEV-3", "Search is slow")
    noise = declare(api, "SEV-3", "Disk alert on a test box")
    clock.advance(timedelta(minutes=30))
    api.post(f"{INCIDENTS}/{real}/resolve", json={"skip_verification": "checked by hand"})
    api.post(f"{INCIDENTS}/{noise}/resolve", json={"false_alarm": "test box"})
    report = api.get("/api/v1/metrics/incidents").json()
    assert report["total"] == 1 and report["false_alarms"] == 1
    assert report["counts"]["severity"] == {"SEV-3": 1}
    assert report["durations"]["mttr"]["count"] == 1
    csv = api.get("/api/v1/metrics/incidents.csv").text.splitlines()
    assert csv[0].endswith(",outcome")
    assert [line.endswith(",false_alarm") for line in csv[1:]] == [False, True]


def test_closed_is_final_everywhere_with_one_answer(api: TestClient) -> None:
    ref = declare(api, "SEV-4")
    assert api.post(f"{INCIDENTS}/{ref}/close", json={"false_alarm": "noise"}).status_code == 200
    refusals = [
        api.post(f"{INCIDENTS}/{ref}/timeline", json={"text": "late"}),
        api.patch(f"{INCIDENTS}/{ref}/checklist/1", json={"done": True}),
        api.patch(f"{INCIDENTS}/{ref}", json={"title": "renamed"}),
        api.post(f"{INCIDENTS}/{ref}/roles", json={"role": "scribe", "person": "rita"}),
        api.post(f"{INCIDENTS}/{ref}/commander", json={"person": "rita"}),
        api.post(
            f"{INCIDENTS}/{ref}/status-updates",
            json={"status": "resolved", "body": "Fixed.", "public_title": "Checkout"},
        ),
    ]
    for answer in refusals:
        assert answer.status_code == 409, answer.text
        message = answer.json()["error"]["message"]
        assert message.startswith(f"{ref} is closed, and closed is final: ")
        assert "declare a new incident" in message and "reopen it" not in message
    texts = timeline_texts(api, ref)
    assert "late" not in texts and api.get(f"{INCIDENTS}/{ref}").json()["title"] != "renamed"
