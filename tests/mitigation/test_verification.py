"""The resolve gate, the close gate and the verification window, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from tests.cli.test_incident_cli import Cli, cli, error, ok  # noqa: F401  (fixture)
from tests.mitigation.test_checklist import entries, snapshot, url
from warroom.config import WarroomConfig, load_config
from warroom.core.clock import FrozenClock
from warroom.core.errors import ConfigError
from warroom.incidents.actor import Actor
from warroom.incidents.models import TimelineEvent
from warroom.postmortem.models import Postmortem
from warroom.runtime import Runtime

RITA = Actor(name="rita", source="api")
TOKEN = "am-token"
AM = {"Authorization": f"Bearer {TOKEN}"}
INCIDENTS = "/api/v1/incidents"


def make_config(**verification: Any) -> WarroomConfig:
    """One Alertmanager integration, checkout routed (SEV-3 by default), and `verification`."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "rita", "name": "Rita"}],
            "services": [{"id": "checkout"}],
            "routes": [{"match": ['service="checkout"'], "service": "checkout"}],
            "integrations": {"alertmanager": [{"name": "prod", "token": TOKEN}]},
            "verification": {"window": "15m", **verification},
        }
    )


@pytest.fixture
def config() -> WarroomConfig:
    return make_config()


def alert(status: str, name: str = "HighCPU", at: datetime | None = None) -> dict[str, Any]:
    """An Alertmanager webhook body with one alert of the checkout service."""
    ends = at.isoformat().replace("+00:00", "Z") if at and status == "resolved" else None
    return {
        "version": "4",
        "status": status,
        "receiver": "warroom",
        "groupKey": '{}:{service="checkout"}',
        "groupLabels": {"service": "checkout"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": {"alertname": name, "service": "checkout", "severity": "warning"},
                "annotations": {"summary": f"{name} on checkout"},
                "startsAt": "2026-03-02T08:55:00Z",
                "endsAt": ends or "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": f"fp-{name}",
            }
        ],
    }


def deliver(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/api/v1/intake/alertmanager", json=body, headers=AM)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def incident(api: TestClient, ref: str = "INC-1") -> dict[str, Any]:
    answer = api.get(f"{INCIDENTS}/{ref}")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def kinds(runtime: Runtime) -> list[str]:
    with runtime.db.session() as session:
        return list(session.scalars(select(TimelineEvent.kind).order_by(TimelineEvent.id)))


def settle_verification(api: TestClient, ref: str = "INC-1") -> None:
    """Mark every Verification item done."""
    for item in entries(api, ref):
        if item["section"] == "Verification":
            answer = api.patch(url(ref, item["id"]), json={"done": True})
            assert answer.status_code == 200, answer.text


def mitigated_by_alert(client: TestClient, api: TestClient, clock: FrozenClock) -> None:
    """An alert opens INC-1; it is triaged and mitigated; the alert resolves."""
    assert deliver(client, alert("firing"))["incidents_opened"] == ["INC-1"]
    body = {"commander": "rita", "severity": "SEV-3", "impact": "slow", "scope": "eu"}
    assert api.post(f"{INCIDENTS}/INC-1/triage", json={**body, "priority": "P3"}).is_success
    clock.advance(timedelta(minutes=5))
    assert api.post(f"{INCIDENTS}/INC-1/mitigate", json={"note": "rolled back"}).is_success
    clock.advance(timedelta(minutes=1))
    deliver(client, alert("resolved", at=clock.now()))


# The resolve gate ----------------------------------------------------------------------------


def test_resolve_is_refused_while_verification_items_are_open(
    runtime: Runtime, api: TestClient
) -> None:
    ref = runtime.flows.declare(actor=RITA, title="Checkout is down").ref
    before = snapshot(runtime)
    answer = api.post(f"{INCIDENTS}/{ref}/resolve", json={"note": "looks fine"})
    assert answer.status_code == 409, answer.text
    error_body = answer.json()["error"]
    verification = [i for i in entries(api, ref) if i["section"] == "Verification"]
    assert [o["id"] for o in error_body["details"]["open_items"]] == [i["id"] for i in verification]
    assert [o["number"] for o in error_body["details"]["open_items"]] == [7, 8]
    message = error_body["message"]
    assert message.startswith("INC-1 cannot resolve: 2 verification checklist item(s)")
    assert f"#7 {verification[0]['text'].rstrip('.')}" in message
    assert "skip_verification" in message
    assert snapshot(runtime) == before  # nothing written, not even the note
    # Closing an open incident skips past resolution: the same gate holds.
    assert api.post(f"{INCIDENTS}/{ref}/close").status_code == 409
    assert incident(api, ref)["status"] == "detected"


def test_resolve_passes_once_items_are_done_or_skipped(runtime: Runtime, api: TestClient) -> None:
    ref = runtime.flows.declare(actor=RITA, title="Checkout is down").ref
    first, second = (i for i in entries(api, ref) if i["section"] == "Verification")
    assert api.patch(url(ref, first["id"]), json={"done": True}).is_success
    answer = api.post(f"{INCIDENTS}/{ref}/resolve")
    assert answer.status_code == 409
    assert [o["id"] for o in answer.json()["error"]["details"]["open_items"]] == [second["id"]]
    skip = {"skipped_reason": "no latency SLO for this service"}
    assert api.patch(url(ref, second["id"]), json=skip).is_success
    answer = api.post(f"{INCIDENTS}/{ref}/resolve")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "resolved"


def test_other_sections_do_not_gate_and_sections_are_configurable(
    runtime: Runtime, api: TestClient, config: WarroomConfig
) -> None:
    ref = runtime.flows.declare(actor=RITA, title="Checkout is down").ref
    settle_verification(api, ref)
    assert any(i["state"] == "open" for i in entries(api, ref))  # containment still open
    assert api.post(f"{INCIDENTS}/{ref}/resolve").status_code == 200
    # A team that also wants Containment settled says so:
    runtime.config_value = make_config(required_sections=["verification", "Containment"])
    other = runtime.flows.declare(actor=RITA, title="Search is down").ref
    settle_verification(api, other)
    answer = api.post(f"{INCIDENTS}/{other}/resolve")
    assert answer.status_code == 409
    assert {o["section"] for o in answer.json()["error"]["details"]["open_items"]} == {
        "Containment"
    }


def test_skip_verification_skips_open_items_with_the_reason(
    runtime: Runtime, api: TestClient
) -> None:
    ref = runtime.flows.declare(actor=RITA, title="False alarm on checkout").ref
    answer = api.post(
        f"{INCIDENTS}/{ref}/resolve", json={"skip_verification": "  false alarm: no impact  "}
    )
    assert answer.status_code == 200, answer.text
    verification = [i for i in entries(api, ref) if i["section"] == "Verification"]
    assert {(i["state"], i["skipped_reason"]) for i in verification} == {
        ("skipped", "false alarm: no impact")
    }
    texts = [e["text"] for e in answer.json()["timeline"] if e["kind"] == "checklist"]
    assert texts == ["2 open Verification item(s) skipped on resolve: false alarm: no impact"]
    blank = api.post(f"{INCIDENTS}/INC-1/resolve", json={"skip_verification": "   "})
    assert blank.status_code == 422  # resolved already, but the body is checked first


def test_cli_resolve_lists_open_items_and_skips_with_a_reason(
    runtime: Runtime,
    cli: Cli,  # noqa: F811
    api: TestClient,
) -> None:
    ref = runtime.flows.declare(actor=RITA, title="Checkout is down").ref
    message = error(cli("resolve", ref), code=1)
    assert message.startswith("error: INC-1 cannot resolve: 2 Verification item(s) still open")
    assert "--skip-verification REASON" in message
    assert "\n" not in message.strip()
    out = ok(cli("resolve", ref, "--skip-verification", "false alarm"))
    assert "INC-1 is now resolved" in out
    assert incident(api, ref)["status"] == "resolved"


# The close gate ------------------------------------------------------------------------------


def test_close_needs_a_done_postmortem_where_required(runtime: Runtime, api: TestClient) -> None:
    ref = runtime.flows.declare(actor=RITA, title="Checkout is down", severity="SEV-2").ref
    settle_verification(api, ref)
    answer = api.post(f"{INCIDENTS}/{ref}/close")
    assert answer.status_code == 409
    assert (
        "needs a postmortem before it closes: resolve it first" in answer.json()["error"]["message"]
    )
    assert api.post(f"{INCIDENTS}/{ref}/resolve").status_code == 200
    answer = api.post(f"{INCIDENTS}/{ref}/close")
    assert answer.status_code == 409
    error_body = answer.json()["error"]
    assert error_body["details"]["postmortem_status"] == "draft"
    assert (
        "needs its postmortem done before it closes; the postmortem is draft, due "
        in (error_body["message"])
    )
    body = {
        "status": "done",
        "summary": "A bad deploy.",
        "root_cause": "No canary.",
        "five_whys": [{"question": "Why?", "answer": "No canary."}],
    }
    assert api.put(f"{INCIDENTS}/{ref}/postmortem", json=body).status_code == 200
    answer = api.post(f"{INCIDENTS}/{ref}/close")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "closed"


def test_a_severity_change_after_resolving_moves_the_postmortem_requirement(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    minor = runtime.flows.declare(actor=RITA, title="Search is slow", severity="SEV-3").ref
    major = runtime.flows.declare(actor=RITA, title="Checkout is down", severity="SEV-1").ref
    for ref in (minor, major):
        settle_verification(api, ref)
        assert api.post(f"{INCIDENTS}/{ref}/resolve").status_code == 200
    # Found to be worse than it looked: a SEV-1 needs its postmortem before closing.
    assert api.patch(f"{INCIDENTS}/{minor}", json={"severity": "SEV-1"}).status_code == 200
    postmortem = api.get(f"{INCIDENTS}/{minor}/postmortem").json()
    assert postmortem["required"] is True and postmortem["due_at"] is not None
    answer = api.post(f"{INCIDENTS}/{minor}/close")
    assert answer.status_code == 409 and answer.json()["error"]["details"]["postmortem_status"]
    # Lowered after the fact, it still owes the postmortem of the worst it was.
    assert api.patch(f"{INCIDENTS}/{major}", json={"severity": "SEV-4"}).status_code == 200
    postmortem = api.get(f"{INCIDENTS}/{major}/postmortem").json()
    assert postmortem["required"] is True and postmortem["due_at"] is not None
    answer = api.post(f"{INCIDENTS}/{major}/close")
    assert answer.status_code == 409 and "SEV-1 at its worst" in answer.json()["error"]["message"]


def test_close_without_a_required_postmortem(runtime: Runtime, api: TestClient) -> None:
    ref = runtime.flows.declare(actor=RITA, title="Flaky test job", severity="SEV-4").ref
    settle_verification(api, ref)
    answer = api.post(f"{INCIDENTS}/{ref}/close")  # straight from detected: a false alarm
    assert answer.status_code == 200, answer.text
    with runtime.db.session() as session:
        (postmortem,) = session.scalars(select(Postmortem))
        assert postmortem.required is False


# The verification window ---------------------------------------------------------------------


def test_window_passing_marks_verified_without_resolving_by_default(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    mitigated_by_alert(client, api, clock)
    clock.advance(timedelta(minutes=14))
    assert runtime.verification.sweep().verified == []  # 14 minutes quiet: not yet
    clock.advance(timedelta(minutes=1))
    result = runtime.verification.sweep()
    assert (result.verified, result.resolved) == ([1], [])
    body = incident(api)
    assert body["status"] == "mitigated" and body["verified_at"] is not None
    (event,) = [e for e in body["timeline"] if e["kind"] == "verification_passed"]
    assert event["text"] == (
        "Linked alerts stayed resolved for 15m after mitigation; ready to resolve"
    )
    assert event["key_event"] is True
    assert runtime.verification.sweep().verified == []  # once only


def test_window_counts_from_the_last_alert_resolving(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    assert deliver(client, alert("firing"))["incidents_opened"] == ["INC-1"]
    assert api.post(f"{INCIDENTS}/INC-1/mitigate").is_success  # declared while still firing
    clock.advance(timedelta(minutes=10))
    deliver(client, alert("resolved", at=clock.now()))
    clock.advance(timedelta(minutes=10))  # 20 minutes after mitigation, 10 quiet
    assert runtime.verification.sweep().verified == []
    clock.advance(timedelta(minutes=5))
    assert runtime.verification.sweep().verified == [1]


def test_auto_resolve_waits_for_the_checklist(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    runtime.config_value = make_config(auto_resolve=True)
    mitigated_by_alert(client, api, clock)
    clock.advance(timedelta(minutes=16))
    result = runtime.verification.sweep()
    assert (result.verified, result.resolved) == ([1], [])
    body = incident(api)
    assert body["status"] == "mitigated"
    (event,) = [e for e in body["timeline"] if e["kind"] == "verification_passed"]
    assert "2 verification checklist item(s) still open, so it stays mitigated" in event["text"]


def test_auto_resolve_resolves_and_starts_the_postmortem(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    runtime.config_value = make_config(auto_resolve=True, auto_resolve_severities=["SEV-3"])
    mitigated_by_alert(client, api, clock)
    settle_verification(api)
    clock.advance(timedelta(minutes=15))
    result = runtime.verification.sweep()
    assert (result.verified, result.resolved) == ([1], [1])
    body = incident(api)
    assert body["status"] == "resolved"
    resolved = [e for e in body["timeline"] if e["kind"] == "resolved"]
    assert resolved[0]["actor"] == "warroom/verification"
    assert resolved[0]["text"].endswith("verification window of 15m passed (auto_resolve)")
    # The engine told the flows: the postmortem exists and the file moved to archive/.
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Postmortem)) == 1
    assert list((runtime.settings.runbooks_dir / "archive").glob("INC-1*.md"))
    responders = api.get(f"{INCIDENTS}/INC-1/postmortem").json()["responders"]
    assert responders and not any("/" in name for name in responders)  # no machines


def test_auto_resolve_only_for_chosen_severities(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    runtime.config_value = make_config(auto_resolve=True, auto_resolve_severities=["SEV-4"])
    mitigated_by_alert(client, api, clock)
    settle_verification(api)
    clock.advance(timedelta(minutes=15))
    assert runtime.verification.sweep().resolved == []
    assert incident(api)["status"] == "mitigated"


def test_still_firing_or_no_alerts_is_never_verified(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    assert deliver(client, alert("firing"))["incidents_opened"] == ["INC-1"]
    assert api.post(f"{INCIDENTS}/INC-1/mitigate").is_success  # mitigated, alert still firing
    manual = runtime.flows.declare(actor=RITA, title="Reported by a customer").ref
    assert api.post(f"{INCIDENTS}/{manual}/mitigate").is_success
    clock.advance(timedelta(hours=2))
    assert runtime.verification.sweep().verified == []
    assert incident(api)["verified_at"] is None


def test_alert_firing_again_inside_the_window_returns_to_triaged(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    mitigated_by_alert(client, api, clock)
    clock.advance(timedelta(minutes=3))
    deliver(client, alert("firing"))  # the same alert, a new episode
    body = incident(api)
    assert body["status"] == "triaged" and body["mitigated_at"] is None
    refired = [e for e in body["timeline"] if e["kind"] == "alert_refired"]
    assert len(refired) == 1 and refired[0]["key_event"] is True
    assert refired[0]["text"] == (
        "Alert fired again 4m after mitigation (inside the 15m verification window): "
        "HighCPU on checkout"
    )
    assert refired[0]["data"]["inside_window"] is True
    assert kinds(runtime)[-2:] == ["alert_refired", "reopened"]
    # Mitigated again and quiet for the window: verified from the new mitigation.
    assert api.post(f"{INCIDENTS}/INC-1/mitigate").is_success
    deliver(client, alert("resolved", at=clock.now()))
    clock.advance(timedelta(minutes=15))
    assert runtime.verification.sweep().verified == [1]


def test_refire_after_the_window_also_returns_to_triaged_and_can_be_turned_off(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    mitigated_by_alert(client, api, clock)
    clock.advance(timedelta(minutes=20))
    runtime.verification.sweep()
    deliver(client, alert("firing"))
    body = incident(api)
    assert body["status"] == "triaged" and body["verified_at"] is None
    (refired,) = [e for e in body["timeline"] if e["kind"] == "alert_refired"]
    assert "(after the verification window)" in refired["text"]

    runtime.config_value = make_config(refire_returns_to_triaged=False)
    assert api.post(f"{INCIDENTS}/INC-1/mitigate").is_success
    deliver(client, alert("resolved", at=clock.now()))
    deliver(client, alert("firing"))
    assert incident(api)["status"] == "mitigated"


def test_engine_tick_runs_the_sweep(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    runtime.config_value = make_config(auto_resolve=True)
    mitigated_by_alert(client, api, clock)
    settle_verification(api)
    clock.advance(timedelta(minutes=15))
    runtime.engine.run_once()
    assert incident(api)["status"] == "resolved"


# Configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"window": "30s"}, "verification.window: the window must be between 1m and 7d"),
        ({"window": "soon"}, "verification.window: 'soon' is not a duration"),
        ({"required_sections": ["Verification", "verification"]}, "is listed twice"),
        ({"auto_resolve": "maybe"}, "verification.auto_resolve: Input should be a valid boolean"),
        (
            {"resolve_after": "5m"},
            "verification: unknown field 'resolve_after'; known: auto_resolve,",
        ),
        (
            {"auto_resolve_severities": ["SEV-9"]},
            "verification.auto_resolve_severities.0: unknown severity 'SEV-9'",
        ),
    ],
)
def test_bad_verification_config_is_refused(
    tmp_path: Any, section: dict[str, Any], message: str
) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text(yaml.safe_dump({"verification": section}))
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert any(message in problem for problem in raised.value.problems), raised.value.problems


def test_postmortem_required_severities_are_cross_checked(tmp_path: Any) -> None:
    path = tmp_path / "warroom.yaml"
    path.write_text("postmortem:\n  required_severities: [SEV-1, SEV-7]\n")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert raised.value.problems == [
        f"{path}:2: postmortem.required_severities.1: unknown severity 'SEV-7'; known: "
        "SEV-1, SEV-2, SEV-3, SEV-4"
    ]


def sample(name: str, **labels: str) -> float:
    """Return a counter's value in this process (0 when it has no sample yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_prometheus_counts_windows_auto_resolves_and_refires(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    runtime.config_value = make_config(auto_resolve=True)
    before = (
        sample("warroom_verification_windows_passed_total", severity="SEV-3"),
        sample("warroom_verification_auto_resolves_total", severity="SEV-3"),
        sample("warroom_mitigation_refires_total", severity="SEV-3", inside_window="true"),
    )
    mitigated_by_alert(client, api, clock)
    clock.advance(timedelta(minutes=2))
    deliver(client, alert("firing"))  # undoes the mitigation, inside the window
    assert api.post(f"{INCIDENTS}/INC-1/mitigate").is_success
    deliver(client, alert("resolved", at=clock.now()))
    settle_verification(api)
    clock.advance(timedelta(minutes=15))
    assert runtime.verification.sweep().resolved == [1]
    after = (
        sample("warroom_verification_windows_passed_total", severity="SEV-3"),
        sample("warroom_verification_auto_resolves_total", severity="SEV-3"),
        sample("warroom_mitigation_refires_total", severity="SEV-3", inside_window="true"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [1.0, 1.0, 1.0]
    metrics = client.get("/metrics").text
    assert "warroom_mitigation_refires_total{" in metrics
