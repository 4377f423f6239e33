"""The runbook's two examples, end to end through the real product paths over HTTP.

Example 1 (high CPU): an Alertmanager alert opens the incident, the on-call engineer is the
IC, a `rollback` command action runs, the alert resolves and the verification window resolves
the incident on its own. Example 2 (data breach): a user report opens a generic incident that
becomes a restricted SEV-1 security incident (its checklist switches to the security-breach
runbook), an HTTP action disables the account at a loopback identity API, and the incident
cannot close before its postmortem is done. Each ends with a postmortem whose timeline, fishbone
and timeline pictures and export are checked. tests/postmortem/test_examples.py is the simpler
version, driven by timeline notes.
"""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from tests.audit.conftest import logged
from tests.conftest import START
from tests.mitigation.conftest import TOKEN as IDP_TOKEN
from tests.mitigation.conftest import (
    IdentityApi,
    identity_api,  # noqa: F401  (a fixture, used by name)
    script,
)
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

SVG = "{http://www.w3.org/2000/svg}"
INCIDENTS = "/api/v1/incidents"
AM_TOKEN = "am-e2e-token"
AM = {"Authorization": f"Bearer {AM_TOKEN}"}
DEFAULT_CATEGORIES = ["People", "Process", "Technology", "Environment", "Tools"]
MILESTONES = ("detected", "triaged", "mitigated", "resolved")
WHYS = [
    ("Why was checkout slow?", "Its pods were CPU-throttled."),
    ("Why were they throttled?", "Garbage collection ran constantly."),
    ("Why did GC run constantly?", "The heap kept growing."),
    ("Why did the heap grow?", "A memory leak in a new feature."),
    ("Why was the leak shipped?", "No soak test covers new features."),
]


# Helpers -------------------------------------------------------------------------------------


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def at(minutes: float) -> datetime:
    """The instant `minutes` after the test's start (09:00 UTC)."""
    return START + timedelta(minutes=minutes)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def move_to(clock: FrozenClock, minutes: float) -> None:
    """Move the frozen clock forward to START + `minutes`."""
    target = at(minutes)
    assert target >= clock.now()
    clock.set(target)


def high_cpu(status: str, ends: datetime | None = None) -> dict[str, Any]:
    """An Alertmanager v4 webhook body: HighCPUUsage on the checkout service."""
    return {
        "version": "4",
        "status": status,
        "receiver": "warroom",
        "groupKey": '{}:{alertname="HighCPUUsage"}',
        "groupLabels": {"alertname": "HighCPUUsage"},
        "commonLabels": {"alertname": "HighCPUUsage", "service": "checkout"},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": [
            {
                "status": status,
                "labels": {
                    "alertname": "HighCPUUsage",
                    "service": "checkout",
                    "instance": "checkout-7f9c:9100",
                    "severity": "warning",
                },
                "annotations": {"summary": "High CPU usage on checkout"},
                "startsAt": iso(at(-5)),
                "endsAt": iso(ends) if ends else "0001-01-01T00:00:00Z",
                "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=cpu",
                "fingerprint": "e2e-high-cpu",
            }
        ],
    }


def alertmanager(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    """Deliver a webhook body the way Alertmanager does (bearer token, no user)."""
    return ok(client.post("/api/v1/intake/alertmanager", json=body, headers=AM))


def incident(api: TestClient, ref: str) -> dict[str, Any]:
    return ok(api.get(f"{INCIDENTS}/{ref}"))


def events(api: TestClient, ref: str, kind: str) -> list[dict[str, Any]]:
    """The incident's timeline events of `kind`, oldest first."""
    items = ok(api.get(f"{INCIDENTS}/{ref}/timeline"))["items"]
    return [e for e in items if e["kind"] == kind]


def move(api: TestClient, ref: str, action: str, body: dict[str, Any] | None = None) -> Any:
    """Acknowledge, triage, mitigate, resolve or close `ref`; return the incident."""
    return ok(api.post(f"{INCIDENTS}/{ref}/{action}", json=body))


def run_action(api: TestClient, ref: str, name: str, **body: Any) -> dict[str, Any]:
    return ok(api.post(f"{INCIDENTS}/{ref}/actions/{name}", json=body))


def sections(api: TestClient, ref: str) -> dict[str, list[dict[str, Any]]]:
    """The checklist: section name -> its items."""
    body = ok(api.get(f"{INCIDENTS}/{ref}/checklist"))
    return {s["name"]: s["items"] for s in body["sections"]}


def settle_verification(api: TestClient, ref: str) -> int:
    """Tick every Verification item; return how many."""
    items = sections(api, ref)["Verification"]
    assert items and all(item["state"] == "open" for item in items)
    for item in items:
        answer = ok(api.patch(f"{INCIDENTS}/{ref}/checklist/{item['id']}", json={"done": True}))
        assert answer["item"]["state"] == "done"
    assert all(item["state"] == "done" for item in sections(api, ref)["Verification"])
    return len(items)


def write_postmortem(
    api: TestClient, ref: str, *, root_cause: str, fishbone: dict[str, list[str]], **more: Any
) -> dict[str, Any]:
    body = {
        "summary": more.pop("summary", "What happened, in short."),
        "impact": more.pop("impact", "Users were affected."),
        "root_cause": root_cause,
        "five_whys": [{"question": q, "answer": a} for q, a in more.pop("whys", WHYS)],
        "fishbone": fishbone,
        "status": more.pop("status", "done"),
        **more,
    }
    return ok(api.put(f"{INCIDENTS}/{ref}/postmortem", json=body))


def exec_summaries(api: TestClient, ref: str) -> list[str]:
    """The keys of the executive summary emails planned for `ref` (the outbox)."""
    page = ok(api.get("/api/v1/notifications", params={"incident": ref, "channel": "email"}))
    return [n["key"] for n in page["items"] if n["action"] == "exec_summary"]


def title_of(element: ElementTree.Element) -> str:
    """The text of an SVG element's <title> child (its tooltip: the whole, unshortened text)."""
    title = element.find(f"{SVG}title")
    assert title is not None, ElementTree.tostring(element)
    return "".join(title.itertext())


def fishbone_bones(root: ElementTree.Element) -> dict[str, list[str]]:
    """Read the fishbone SVG back: each bone's category -> the causes drawn on it."""
    bones = {}
    for bone in root.iter(f"{SVG}g"):
        if bone.get("class") == "bone":
            name, *causes = (title_of(text) for text in bone.iter(f"{SVG}text"))
            bones[name] = causes
    return bones


def check_postmortem_outputs(
    api: TestClient,
    runtime: Runtime,
    ref: str,
    *,
    times: dict[str, datetime],
    categories: list[str],
    fishbone: dict[str, list[str]],
    root_cause: str,
    restricted: bool,
) -> None:
    """The postmortem shows the four times; the pictures parse and hold what they should;
    the export writes its four files into archive/."""
    pm = ok(api.get(f"{INCIDENTS}/{ref}/postmortem"))
    milestones = pm["timeline"]["milestones"]
    assert {k: parse_time(milestones[k]) for k in MILESTONES} == {k: times[k] for k in MILESTONES}
    spans = pm["timeline"]["durations"]
    assert spans["detection_to_triage"] == (times["triaged"] - times["detected"]).total_seconds()
    assert spans["triage_to_mitigation"] == (times["mitigated"] - times["triaged"]).total_seconds()
    assert (
        spans["mitigation_to_resolution"]
        == (times["resolved"] - times["mitigated"]).total_seconds()
    )

    picture = api.get(f"{INCIDENTS}/{ref}/postmortem/fishbone.svg")
    assert picture.status_code == 200, picture.text
    assert picture.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(picture.content)
    assert root.tag == f"{SVG}svg"
    # Every category is a bone (the configured ones, empty or not, then the custom ones).
    assert fishbone_bones(root) == {name: fishbone.get(name, []) for name in categories}

    timeline = api.get(f"{INCIDENTS}/{ref}/postmortem/timeline.svg")
    assert timeline.status_code == 200
    troot = ElementTree.fromstring(timeline.content)
    marks = {
        g.get("data-milestone"): g for g in troot.iter(f"{SVG}g") if g.get("class") == "milestone"
    }
    assert set(MILESTONES) <= set(marks)
    for name in MILESTONES:
        title = title_of(marks[name])
        assert f"{times[name]:%Y-%m-%d %H:%M} UTC" in title, (name, title)

    paths = [Path(p) for p in ok(api.post(f"{INCIDENTS}/{ref}/postmortem/export"))["paths"]]
    archive = runtime.runbooks.archive.resolve()
    assert len(paths) == 4 and all(p.resolve().parent == archive for p in paths)
    assert all(p.name.startswith(f"{ref}-") for p in paths)
    suffixes = sorted("".join(p.suffixes) for p in paths)
    assert suffixes == [".fishbone.svg", ".postmortem.html", ".postmortem.md", ".timeline.svg"]
    (exported,) = logged(runtime, "postmortem.export")  # who took the document out
    assert (exported["target"], exported["details"]["restricted"]) == (ref, restricted)
    assert sorted(exported["details"]["files"]) == sorted(p.name for p in paths)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == (0o600 if restricted else 0o644), path
        if path.suffix == ".svg":
            ElementTree.parse(path)
    markdown = next(p for p in paths if p.name.endswith(".postmortem.md")).read_text("utf-8")
    for label, key in zip(
        ("Detection", "Triage", "Mitigation", "Resolution"), MILESTONES, strict=True
    ):
        assert f"| {label} | {times[key]:%Y-%m-%d %H:%M} UTC |" in markdown, label
    assert root_cause in markdown


# Configuration -------------------------------------------------------------------------------


@pytest.fixture
def config(identity_api: IdentityApi) -> WarroomConfig:  # noqa: F811
    """People on a weekly on-call rotation (alice is primary at 09:00 on 2026-03-02), checkout
    and accounts, an Alertmanager route for checkout, auto-resolving verification and the two
    actions of the examples."""
    rotation = {"every": "1w", "handoff": "Mon 09:00", "start": "2026-01-05"}
    return WarroomConfig.model_validate(
        {
            "people": [
                {"id": "alice", "name": "Alice Ng", "email": "alice@example.com"},
                {"id": "bob", "name": "Bob Ruiz", "email": "bob@example.com"},
                {"id": "rita", "name": "Rita Responder"},
            ],
            "teams": [{"id": "platform", "members": ["alice", "bob"], "leads": ["bob"]}],
            "schedules": [
                {
                    "id": "platform",
                    "timezone": "Europe/Berlin",
                    "layers": [
                        {
                            "name": "primary",
                            "rotation": {**rotation, "participants": ["alice", "bob"]},
                        },
                        {
                            "name": "secondary",
                            "rotation": {**rotation, "participants": ["bob", "alice"]},
                        },
                    ],
                }
            ],
            "services": [
                {"id": "checkout", "team": "platform", "schedule": "platform"},
                {"id": "accounts", "team": "platform", "schedule": "platform"},
            ],
            "routes": [
                {"match": ['service="checkout"'], "service": "checkout"},
            ],
            "integrations": {
                "alertmanager": [{"name": "prod", "token": AM_TOKEN}],
                # A relay nobody listens on: the outbox plans the mail, nothing sends it here.
                "smtp": {"host": "127.0.0.1", "port": 9, "from": "warroom@example.com"},
            },
            "verification": {"window": "15m", "auto_resolve": True},
            "notifications": {"executives": ["cto@example.com"]},
            "actions": [
                {
                    "name": "rollback",
                    "description": "Roll the service back to its previous version",
                    "dangerous": True,
                    "command": [
                        *script(
                            "import sys; print('rolled back', sys.argv[1], 'for', sys.argv[2])"
                        ),
                        "{service}",
                        "{incident}",
                    ],
                },
                {
                    "name": "disable-account",
                    "description": "Disable a user account at the identity provider",
                    "dangerous": True,
                    "http": {
                        "url": identity_api.url + "/users/{user}/disable",
                        "bearer_token": IDP_TOKEN,
                        "json": {"reason": "incident {incident}", "user": "{user}"},
                        "timeout": 5,
                    },
                    "params": {"user": {"pattern": "[a-z][a-z0-9._-]{0,63}"}},
                },
            ],
        }
    )


# Example 1 -----------------------------------------------------------------------------------


def test_example_1_high_cpu_usage(
    runtime: Runtime, client: TestClient, api: TestClient, clock: FrozenClock
) -> None:
    # Detection: Prometheus (via Alertmanager) fires HighCPUUsage for checkout.
    delivered = alertmanager(client, high_cpu("firing"))
    assert delivered["incidents_opened"] == ["INC-1"]
    ref = "INC-1"
    opened = incident(api, ref)
    assert (opened["status"], opened["source"], opened["service"]) == (
        "detected",
        "alertmanager",
        "checkout",
    )
    assert parse_time(opened["detected_at"]) == at(0)
    assert parse_time(opened["started_at"]) == at(-5)  # the alert's startsAt
    # Triage: the on-call engineer (alice is primary this week) is the initial IC.
    assert opened["commander"] == "alice"

    move_to(clock, 3)
    acked = move(api, ref, "acknowledge")
    assert parse_time(acked["acknowledged_at"]) == at(3) and acked["acknowledged_by"] == "rita"

    move_to(clock, 8)
    assessment = {
        "commander": "alice",
        "severity": "SEV-2",
        "impact": "Checkout requests take 4s; some payments time out",
        "scope": "checkout in eu-west, all customers",
        "priority": "P1",
    }
    triaged = move(api, ref, "triage", assessment)
    assert triaged["status"] == "triaged"
    assert {k: triaged[k] for k in assessment} == assessment
    # Escalation: SEV-2 mails the executive summary (once per incident and severity).
    assert exec_summaries(api, ref) == ["inc1:exec:SEV-2"]

    # Mitigation: roll the service back to the previous version (a dangerous action).
    move_to(clock, 12)
    refused = api.post(f"{INCIDENTS}/{ref}/actions/rollback", json={})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"]["confirm_required"] is True
    assert events(api, ref, "action") == []  # an unconfirmed dangerous action does not run
    result = run_action(api, ref, "rollback", confirm=True)
    assert (result["ok"], result["exit_code"], result["timed_out"]) == (True, 0, False)
    assert result["stdout"] == f"rolled back checkout for {ref}\n"
    (action,) = events(api, ref, "action")
    assert action["id"] == result["event_id"] and action["actor"] == "rita"
    assert action["text"].startswith("Action rollback succeeded: exit code 0")
    assert action["data"]["exit_code"] == 0
    assert action["data"]["stdout"] == f"rolled back checkout for {ref}\n"
    assert parse_time(action["at"]) == at(12)

    move_to(clock, 15)
    mitigated = move(api, ref, "mitigate", {"note": "Rolled back to the previous version"})
    assert mitigated["status"] == "mitigated"

    move_to(clock, 20)
    resolved_alert = alertmanager(client, high_cpu("resolved", ends=at(20)))
    assert resolved_alert["resolved"] == 1
    assert events(api, ref, "alert_resolved")
    assert settle_verification(api, ref) == 2  # the generic runbook's two checks

    # The window counts from the alert resolving (09:20): not yet at 09:34, resolved at 09:35.
    move_to(clock, 34)
    early = runtime.verification.sweep()
    assert (early.verified, early.resolved) == ([], [])
    assert incident(api, ref)["status"] == "mitigated"
    move_to(clock, 35)
    swept = runtime.verification.sweep()
    assert (swept.verified, swept.resolved) == ([1], [1])
    done = incident(api, ref)
    assert done["status"] == "resolved" and parse_time(done["resolved_at"]) == at(35)
    (resolved,) = [e for e in done["timeline"] if e["kind"] == "resolved"]
    assert resolved["actor"] == "warroom/verification"

    # Postmortem: created on resolve, required for SEV-2; closing waits for it.
    pm = ok(api.get(f"{INCIDENTS}/{ref}/postmortem"))
    assert (pm["status"], pm["severity"], pm["required"]) == ("draft", "SEV-2", True)
    assert pm["commander"] == "alice" and pm["service"] == "checkout"
    assert "warroom/verification" not in pm["responders"]
    early_close = api.post(f"{INCIDENTS}/{ref}/close")
    assert early_close.status_code == 409, early_close.text
    assert early_close.json()["error"]["details"]["postmortem_status"] == "draft"

    move_to(clock, 60)
    fishbone = {
        "Technology": ["A memory leak in the new recommendations feature"],
        "Process": ["No soak test before rollout"],
        "Capacity": ["No CPU headroom on checkout"],
    }
    written = write_postmortem(
        api,
        ref,
        summary="Checkout was slow for 20 minutes after a release; rolling back fixed it.",
        impact="Checkout latency of 4s; about 3% of payments timed out.",
        root_cause="A memory leak in a new feature.",
        fishbone=fishbone,
    )
    assert (written["status"], written["updated_by"]) == ("done", "rita")
    assert written["root_cause"] == "A memory leak in a new feature."
    assert [w["answer"] for w in written["five_whys"]] == [a for _, a in WHYS]
    assert set(DEFAULT_CATEGORIES) | {"Capacity"} <= set(written["fishbone"])
    item = ok(
        api.post(
            f"{INCIDENTS}/{ref}/postmortem/action-items",
            json={
                "kind": "short_term",
                "title": "Roll back to the previous version",
                "owner": "alice",
            },
        ),
        201,
    )
    assert (item["kind"], item["status"], item["incident"]) == ("short_term", "open", ref)

    closed = move(api, ref, "close")
    assert closed["status"] == "closed" and parse_time(closed["closed_at"]) == at(60)

    check_postmortem_outputs(
        api,
        runtime,
        ref,
        times={"detected": at(0), "triaged": at(8), "mitigated": at(15), "resolved": at(35)},
        categories=[*DEFAULT_CATEGORIES, "Capacity"],
        fishbone=fishbone,
        root_cause="A memory leak in a new feature.",
        restricted=False,
    )
    pm = ok(api.get(f"{INCIDENTS}/{ref}/postmortem"))
    assert [i["title"] for i in pm["action_items"]] == ["Roll back to the previous version"]
    starred = {e["kind"] for e in pm["timeline"]["events"] if e["key_event"]}
    assert {"triaged", "mitigated", "resolved"} <= starred


# Example 2 -----------------------------------------------------------------------------------


def test_example_2_data_breach(
    runtime: Runtime,
    api: TestClient,
    clock: FrozenClock,
    identity_api: IdentityApi,  # noqa: F811
) -> None:
    # Detection: a user reports that their data has been compromised (the report form).
    report = {
        "title": "My account data was changed by someone else",
        "summary": "My shipping address and email changed overnight; I did not do it.",
        "service": "accounts",
    }
    created = ok(api.post("/api/v1/reports", json=report), 201)
    assert created["incidents_opened"] == ["INC-1"]
    ref = "INC-1"
    opened = incident(api, ref)
    assert (opened["source"], opened["service"], opened["status"]) == (
        "web",
        "accounts",
        "detected",
    )
    assert (opened["incident_type"], opened["severity"]) == ("default", "SEV-3")
    assert (opened["runbook_template"], opened["visibility"]) == ("generic", "public")
    assert "Eradication" not in sections(api, ref)
    assert opened["commander"] == "alice"  # the on-call engineer is the initial IC

    # It is a breach: security, SEV-1, restricted; the checklist becomes the breach runbook.
    move_to(clock, 2)
    changed = ok(
        api.patch(
            f"{INCIDENTS}/{ref}",
            json={
                "incident_type": "security",
                "severity": "SEV-1",
                "visibility": "restricted",
                "reason": "customer data was altered by someone else",
            },
        )
    )
    assert (changed["incident_type"], changed["severity"], changed["visibility"]) == (
        "security",
        "SEV-1",
        "restricted",
    )
    assert changed["runbook_template"] == "security-breach"
    checklist = sections(api, ref)
    assert list(checklist)[:4] == ["Containment", "Eradication", "Remediation", "Verification"]
    assert any("Rotate every secret" in i["text"] for i in checklist["Eradication"])
    # Escalation: the executive team is told by email (planned in the outbox).
    assert exec_summaries(api, ref) == ["inc1:exec:SEV-1"]
    (switched,) = events(api, ref, "runbook_changed")
    assert (switched["data"]["from"], switched["data"]["to"]) == ("generic", "security-breach")

    move_to(clock, 5)
    move(api, ref, "acknowledge")
    move_to(clock, 10)
    assessment = {
        "commander": "alice",
        "severity": "SEV-1",
        "impact": "One customer's personal data was read and changed",
        "scope": "accounts; possibly every account",
        "priority": "P1",
    }
    triaged = move(api, ref, "triage", assessment)
    assert {k: triaged[k] for k in assessment} == assessment

    # Mitigation: disable the affected user's account at the identity provider.
    move_to(clock, 15)
    result = run_action(api, ref, "disable-account", params={"user": "mallory"}, confirm=True)
    assert result["ok"] is True and result["status_code"] == 200, result
    (seen,) = identity_api.requests
    assert (seen.method, seen.path) == ("POST", "/users/mallory/disable")
    assert seen.headers["Authorization"] == f"Bearer {IDP_TOKEN}"
    assert seen.body == {"reason": f"incident {ref}", "user": "mallory"}
    (action,) = events(api, ref, "action")
    assert action["id"] == result["event_id"] and action["actor"] == "rita"
    assert action["text"].startswith("Action disable-account succeeded: HTTP 200")
    assert action["data"]["params"] == {"user": "mallory"}
    assert IDP_TOKEN not in str(action)  # the bearer token (echoed by the API) stays redacted

    move_to(clock, 20)
    move(api, ref, "mitigate", {"note": "Account disabled; sessions revoked"})
    # SEV-1 needs its postmortem done: closing is refused now (not resolved yet) ...
    assert api.post(f"{INCIDENTS}/{ref}/close").status_code == 409
    assert settle_verification(api, ref) == 3  # the security-breach runbook's three checks
    move_to(clock, 60)
    resolved = move(api, ref, "resolve", {"note": "Attack path closed and verified"})
    assert resolved["status"] == "resolved"

    # ... and after resolving, while the postmortem is a draft.
    refused = api.post(f"{INCIDENTS}/{ref}/close")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["details"]["postmortem_status"] == "draft"
    assert incident(api, ref)["status"] == "resolved"

    fishbone = {
        "Technology": ["A SQL injection vulnerability in the profile search"],
        "Process": ["No security review of the new endpoint"],
        "Tools": ["No SAST gate in CI"],
    }
    move_to(clock, 120)
    written = write_postmortem(
        api,
        ref,
        summary="An attacker changed a customer's data through a SQL injection.",
        impact="One customer's personal data was read and changed.",
        root_cause="A SQL injection vulnerability.",
        fishbone=fishbone,
        whys=[("Why could they change the data?", "A SQL injection vulnerability.")],
    )
    assert (written["status"], written["severity"], written["required"]) == ("done", "SEV-1", True)
    ok(
        api.post(
            f"{INCIDENTS}/{ref}/postmortem/action-items",
            json={"kind": "long_term", "title": "Parameterise every query; add a SAST gate"},
        ),
        201,
    )
    assert move(api, ref, "close")["status"] == "closed"

    runbook_files = [
        p for p in runtime.runbooks.archive.glob(f"{ref}-*.md") if ".postmortem" not in p.name
    ]
    assert len(runbook_files) == 1
    assert stat.S_IMODE(runbook_files[0].stat().st_mode) == 0o600  # restricted
    check_postmortem_outputs(
        api,
        runtime,
        ref,
        times={"detected": at(0), "triaged": at(10), "mitigated": at(20), "resolved": at(60)},
        categories=DEFAULT_CATEGORIES,
        fishbone=fishbone,
        root_cause="A SQL injection vulnerability.",
        restricted=True,
    )
