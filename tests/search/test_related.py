"""Related incidents: scored by service, alertname, labels and words; visibility holds."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_token
from tests.helpers import Fakes
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.runtime import Runtime

TOKEN = "am-related-token"
AM = {"Authorization": f"Bearer {TOKEN}"}
INCIDENTS = "/api/v1/incidents"
SECRET = "SECRET-TITLE-41"


@pytest.fixture
def config() -> WarroomConfig:
    """Two services; breaches are restricted to the security team (alice)."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": n, "name": n.capitalize()} for n in ("ada", "alice", "vic")],
            "teams": [{"id": "security", "members": ["alice"]}],
            "services": [{"id": "checkout"}, {"id": "search"}],
            "incident_types": [
                {"id": "default", "name": "Default"},
                {
                    "id": "security",
                    "name": "Security",
                    "restricted": True,
                    "access_teams": ["security"],
                },
            ],
            "routes": [
                {"match": ['kind="breach"'], "incident_type": "security"},
                {"match": ['service=~".+"'], "severity": "SEV-3"},
            ],
            "integrations": {
                "alertmanager": [{"name": "prod", "token": TOKEN}],
                "slack": {
                    "bot_token": "xoxb-test",
                    "signing_secret": "s3cret",
                    "channel": "#incidents",
                },
            },
            "notifications": {"incident_channels": False, "base_url": "http://wr.example"},
        }
    )


@pytest.fixture
def who(runtime: Runtime) -> dict[str, dict[str, str]]:
    """Headers of ada (admin), alice (security team) and vic (viewer)."""
    roles = {"ada": "admin", "alice": "viewer", "vic": "viewer"}
    return {
        name: {"Authorization": f"Bearer {make_token(runtime, name, role)}"}
        for name, role in roles.items()
    }


def fire(client: TestClient, name: str, service: str, summary: str, **labels: str) -> str:
    """Open an incident from one Alertmanager alert; return its ref."""
    fire.count += 1  # type: ignore[attr-defined]
    alert = {
        "status": "firing",
        "labels": {"alertname": name, "service": service, **labels},
        "annotations": {"summary": summary},
        "startsAt": "2026-12-05T08:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"fp-{fire.count}",  # type: ignore[attr-defined]
    }
    body = {"version": "4", "status": "firing", "receiver": "warroom", "alerts": [alert]}
    body["groupKey"] = f"{{}}:{{n={fire.count}}}"  # type: ignore[attr-defined]
    answer = client.post("/api/v1/intake/alertmanager", json=body, headers=AM)
    assert answer.status_code == 200, answer.text
    opened = answer.json()["incidents_opened"]
    assert len(opened) == 1, answer.text
    return str(opened[0])


fire.count = 0  # type: ignore[attr-defined]


def resolve(client: TestClient, headers: dict[str, str], ref: str) -> None:
    """Resolve a past incident, so the next alert opens a new one."""
    body = {"skip_verification": "a test"}
    answer = client.post(f"{INCIDENTS}/{ref}/resolve", json=body, headers=headers)
    assert answer.status_code == 200, answer.text


def related(client: TestClient, headers: dict[str, str], ref: str) -> dict[str, Any]:
    """Return the related incidents of `ref` as `headers`' owner sees them."""
    answer = client.get(f"{INCIDENTS}/{ref}/related", headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.fixture
def history(
    client: TestClient, clock: FrozenClock, who: dict[str, dict[str, str]]
) -> dict[str, str]:
    """Past incidents over 92 days, then the new one: INC-now (HighCPU on checkout)."""
    ada = who["ada"]
    refs = {}
    plan = [
        ("old", "HighCPU", "checkout", "CPU saturated on checkout pods", {}, 62),  # 92 days
        ("cpu1", "HighCPU", "checkout", "CPU saturated on checkout pods", {"env": "prod"}, 20),
        ("breach", "LoginAnomaly", "checkout", f"{SECRET} logins", {"kind": "breach"}, 5),
        ("words", "DiskFull", "search", "Pods saturated: CPU throttled", {}, 1),
        ("other", "DiskFull", "search", "Disk filling on search nodes", {}, 1),
        ("cpu2", "HighCPU", "checkout", "CPU saturated again", {"env": "prod"}, 3),
    ]
    for key, name, service, summary, labels, days_after in plan:
        refs[key] = fire(client, name, service, summary, **labels)
        resolve(client, ada, refs[key])
        clock.advance(timedelta(days=days_after))
    refs["now"] = fire(client, "HighCPU", "checkout", "CPU saturated on checkout", env="prod")
    return refs


def test_scores_explain_themselves_and_count_repeats(
    client: TestClient, who: dict[str, dict[str, str]], history: dict[str, str]
) -> None:
    body = related(client, who["ada"], history["now"])
    listed = {item["ref"]: item for item in body["items"]}
    # cpu1 shares one word more than cpu2 (3 days before); the breach shares the service only.
    order = [history[k] for k in ("cpu1", "cpu2", "breach", "words")]
    assert [item["ref"] for item in body["items"]] == order
    cpu2 = listed[history["cpu2"]]
    assert cpu2["reasons"] == [
        "same service",
        "same alertname (HighCPU)",
        "1 shared label (env=prod)",
        "2 shared words (cpu, saturated)",
    ]
    assert cpu2["score"] == 3 + 3 + 1 + 2
    assert cpu2["explanation"] == (
        "same service, same alertname (HighCPU), 1 shared label (env=prod), "
        "2 shared words (cpu, saturated), 3 days before"
    )
    assert listed[history["cpu1"]]["score"] == 3 + 3 + 1 + 3
    assert listed[history["breach"]]["reasons"] == ["same service"]
    words = listed[history["words"]]
    assert words["reasons"] == ["2 shared words (cpu, saturated)"]
    assert words["score"] == 2
    # 100 days before: outside the window; a different service and no shared words: not listed.
    assert history["old"] not in listed and history["other"] not in listed
    # The admin sees the breach (same service); cpu1, cpu2 and nothing else share the alertname.
    assert history["breach"] in listed
    assert body["repeats"] == 2 and body["repeats_text"] == "2 times in the last 90 days"


def test_restricted_incidents_only_to_those_who_may_see_them(
    client: TestClient, who: dict[str, dict[str, str]], history: dict[str, str]
) -> None:
    seen_by_vic = client.get(f"{INCIDENTS}/{history['now']}/related", headers=who["vic"])
    assert seen_by_vic.status_code == 200
    assert SECRET not in seen_by_vic.text and history["breach"] not in seen_by_vic.text
    alice = related(client, who["alice"], history["now"])  # the security team
    assert history["breach"] in [item["ref"] for item in alice["items"]]
    # The restricted incident's own list is a 404 to an outsider, as every incident route is.
    hidden = client.get(f"{INCIDENTS}/{history['breach']}/related", headers=who["vic"])
    assert hidden.status_code == 404
    assert SECRET not in hidden.text


def test_postmortem_root_cause_and_action_items_come_along(
    client: TestClient, who: dict[str, dict[str, str]], history: dict[str, str]
) -> None:
    ada, ref = who["ada"], history["cpu2"]
    saved = client.put(
        f"{INCIDENTS}/{ref}/postmortem",
        json={"root_cause": "A runaway cron job pinned every core"},
        headers=ada,
    )
    assert saved.status_code == 200, saved.text
    item = {"kind": "short_term", "title": "Cap the cron job's CPU"}
    added = client.post(f"{INCIDENTS}/{ref}/postmortem/action-items", json=item, headers=ada)
    assert added.status_code in (200, 201), added.text
    listed = {i["ref"]: i for i in related(client, ada, history["now"])["items"]}
    assert listed[ref]["postmortem"] == {
        "root_cause": "A runaway cron job pinned every core",
        "action_items": [{"title": "Cap the cron job's CPU", "status": "open"}],
    }
    assert listed[history["words"]]["postmortem"] is None or (
        listed[history["words"]]["postmortem"]["action_items"] == []
    )


def test_the_first_slack_message_names_public_related_incidents_only(
    client: TestClient,
    runtime: Runtime,
    fakes: Fakes,
    who: dict[str, dict[str, str]],
    history: dict[str, str],
) -> None:
    runtime.engine.run_once()
    announced = [
        str(a["text"])
        for m, a in fakes.chat.calls
        if m == "post" and a["channel"] == "#incidents" and history["now"] in str(a["text"])
    ]
    assert len(announced) == 1
    text = announced[0]
    assert "Happened 2 times in the last 90 days." in text
    assert f"Related: {history['cpu2']} " in text
    assert "same service, same alertname (HighCPU)" in text
    assert f"http://wr.example/incidents/{history['cpu2'][4:]}" in text
    assert SECRET not in "\n".join(str(a) for _, a in fakes.chat.calls)
    assert history["breach"] not in text


def test_drills_and_storm_kin_are_left_out(
    runtime: Runtime, client: TestClient, who: dict[str, dict[str, str]], history: dict[str, str]
) -> None:
    from sqlalchemy import update

    from warroom.incidents.models import Incident

    with runtime.db.session() as session:
        number = int(history["cpu2"][4:])
        session.execute(update(Incident).where(Incident.number == number).values(drill_id=7))
        number = int(history["cpu1"][4:])
        now = int(history["now"][4:])
        session.execute(update(Incident).where(Incident.number == number).values(parent_number=now))
        session.commit()
    listed = [i["ref"] for i in related(client, who["ada"], history["now"])["items"]]
    assert history["cpu2"] not in listed  # a drill
    assert history["cpu1"] not in listed  # bundled under this incident
    assert history["breach"] in listed
    with runtime.db.session() as session:  # a drill of its own: drills count for it
        number = int(history["now"][4:])
        session.execute(update(Incident).where(Incident.number == number).values(drill_id=8))
        session.commit()
    listed = [i["ref"] for i in related(client, who["ada"], history["now"])["items"]]
    assert history["cpu2"] in listed


def test_a_storm_member_still_finds_incidents_outside_storms(
    runtime: Runtime, client: TestClient, who: dict[str, dict[str, str]], history: dict[str, str]
) -> None:
    from sqlalchemy import update

    from warroom.incidents.models import Incident

    with runtime.db.session() as session:  # INC-now bundled under the breach, as a member
        number = int(history["now"][4:])
        parent = int(history["breach"][4:])
        session.execute(
            update(Incident).where(Incident.number == number).values(parent_number=parent)
        )
        session.commit()
    listed = [i["ref"] for i in related(client, who["ada"], history["now"])["items"]]
    assert history["breach"] not in listed  # its own storm's parent
    assert history["cpu1"] in listed and history["cpu2"] in listed  # in no storm at all


def test_an_unknown_incident_is_404(client: TestClient, who: dict[str, dict[str, str]]) -> None:
    answer = client.get(f"{INCIDENTS}/INC-999/related", headers=who["vic"])
    assert answer.status_code == 404 and "INC-999" in answer.text


def test_incident_show_prints_related_and_json_has_them(
    live_server: str, who: dict[str, dict[str, str]], history: dict[str, str]
) -> None:
    from tests.cli.test_incident_cli import invoke

    def show(token: str, *args: str) -> str:
        result = invoke(live_server, token, "show", history["now"], *args)
        assert result.exit_code == 0, result.output
        return result.output

    ada, vic = (who[name]["Authorization"].split()[1] for name in ("ada", "vic"))
    out = show(ada)
    assert "Related — happened 2 times in the last 90 days" in out
    assert f"{history['cpu2']} SEV-3 resolved  CPU saturated again" in out
    assert "same service, same alertname (HighCPU), 1 shared label (env=prod)" in out
    assert history["breach"] in out
    hidden = show(vic)
    assert history["breach"] not in hidden and SECRET not in hidden
    assert history["cpu2"] in hidden
    body = json.loads(show(vic, "--json"))
    assert [i["ref"] for i in body["related"]["items"]] == [
        history[k] for k in ("cpu1", "cpu2", "words")
    ]


def test_incident_show_works_against_a_server_without_related_incidents(
    live_server: str, who: dict[str, dict[str, str]], history: dict[str, str]
) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from tests.cli.test_incident_cli import invoke

    ref = history["now"]
    detail = httpx.get(f"{live_server}{INCIDENTS}/{ref}", headers=who["ada"]).json()

    class OlderServer(BaseHTTPRequestHandler):
        """Answers the incident, and 404 for /related as a server before it would."""

        def do_GET(self) -> None:
            found = self.path == f"{INCIDENTS}/{ref}"
            body = json.dumps(detail if found else {"detail": "Not Found"}).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), OlderServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = invoke(url, "any-token", "show", ref)
        as_json = invoke(url, "any-token", "show", ref, "--json")
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert detail["title"] in result.stdout
    assert "related incidents unavailable" in result.stderr
    # The JSON is the incident as the server answered it: no `related` key, not a null one.
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == detail
    assert "related incidents unavailable" in as_json.stderr
