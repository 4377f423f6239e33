"""The alerts and silences pages over HTTP, as plain forms: the list and its filters, a
silence previewed, refused and created, expired; an alert of a hidden incident never shown."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.detection.models import Alert, Silence
from warroom.incidents.actor import Actor
from warroom.incidents.models import Incident
from warroom.runtime import Runtime

TOKEN = "webhook-token"
HOOK = {"Authorization": f"Bearer {TOKEN}"}
MARKER = "OTTER-4410"  # on the alert of a restricted incident


@pytest.fixture
def config() -> WarroomConfig:
    """A generic webhook to deliver alerts through; alice on the security team."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "rita", "name": "Rita"}, {"id": "alice", "name": "Alice"}],
            "teams": [{"id": "security", "members": ["alice"]}],
            "integrations": {"webhook": [{"name": "hooks", "token": TOKEN}]},
        }
    )


def deliver(client: TestClient, title: str, key: str, **labels: str) -> dict[str, Any]:
    """Send one alert through the generic webhook."""
    body = {"title": title, "dedup_key": key, "status": "firing", "labels": labels}
    response = client.post("/api/v1/intake/webhook", json=body, headers=HOOK)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture
def alerts(client: TestClient, runtime: Runtime) -> None:
    """rita (responder), vic (viewer), alice (security); two checkout alerts, one search alert,
    and one alert moved onto a restricted breach only alice sees."""
    add_user(runtime, "rita", "responder")
    add_user(runtime, "vic", "viewer")
    add_user(runtime, "alice", "responder")
    deliver(client, "Checkout p99 above 4 s", "co-1", service="checkout", env="prod")
    deliver(client, "Checkout errors 12 %", "co-2", service="checkout", env="staging")
    deliver(client, "Search empty results", "se-1", service="search", env="prod")
    deliver(client, f"Exfiltration suspected {MARKER}", "sec-1", service="vault", env="prod")
    ada = Actor(name="ada", source="api", role="admin")
    breach = runtime.flows.declare(
        actor=ada, title="Breach", incident_type="security", commander="alice"
    )
    assert breach.visibility == "restricted"
    with runtime.db.transaction() as session:
        breach_id = session.scalar(select(Incident.id).where(Incident.number == breach.number))
        session.execute(
            update(Alert).where(Alert.title.contains(MARKER)).values(incident_id=breach_id)
        )


def csrf_of(page: str) -> str:
    """Return the CSRF token a page's forms carry."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_list_shows_alerts_newest_first_with_labels_and_incident(
    client: TestClient, alerts: None
) -> None:
    sign_in(client, "vic")
    page = client.get("/alerts")
    assert page.status_code == 200
    text = page.text
    assert text.index("Search empty results") < text.index("Checkout errors 12 %")
    assert text.index("Checkout errors 12 %") < text.index("Checkout p99 above 4 s")
    assert 'service="checkout"' in text and 'env="staging"' in text
    assert re.search(r'href="/incidents/INC-\d+"', text)
    assert "first seen" in text and "seen 1 time" in text
    assert '<a href="/alerts" aria-current="page">Alerts</a>' in text


def test_an_alert_of_a_hidden_incident_is_left_out_as_in_the_api(
    client: TestClient, alerts: None
) -> None:
    sign_in(client, "vic")
    for status in ("firing", "all"):
        assert MARKER not in client.get(f"/alerts?status={status}").text
    sign_in(client, "alice")
    assert MARKER in client.get("/alerts").text


def test_the_filters_and_cursor_stay_in_the_url(
    client: TestClient, alerts: None, runtime: Runtime
) -> None:
    sign_in(client, "rita")
    assert client.get("/alerts?status=resolved").text.count('class="alert-item"') == 0
    assert client.get("/alerts?status=all&source=webhook").text.count('class="alert-item"') == 3
    assert client.get("/alerts?source=nothing").text.count('class="alert-item"') == 0
    with runtime.db.session() as session:
        newest = max(session.scalars(select(Alert.id)))
    older = client.get(f"/alerts?status=all&cursor={newest}").text
    assert "Exfiltration" not in older and "Search empty results" in older
    assert 'href="/alerts?status=all"' in older  # back to the newest
    assert client.get("/alerts?status=bogus").status_code == 422
    assert client.get("/alerts?cursor=-1").status_code == 422


def form(csrf: str, rows: list[tuple[str, str, str]], **fields: str) -> dict[str, Any]:
    """Return the new-silence form: matcher rows padded to four, as the page sends them."""
    padded = rows + [("", "=", "")] * (4 - len(rows))
    return {
        "csrf_token": csrf,
        "label": [row[0] for row in padded],
        "op": [row[1] for row in padded],
        "value": [row[2] for row in padded],
        "duration": "2h",
        "ends_at": "",
        "comment": "DB upgrade",
        **fields,
    }


def silence_count(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return len(list(session.scalars(select(Silence))))


def test_preview_lists_the_firing_alerts_it_would_match_and_writes_nothing(
    client: TestClient, alerts: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    page = client.get("/silences")
    assert page.text.count('name="label"') == 4
    answer = client.post(
        "/silences",
        data=form(
            csrf, [("service", "=", "checkout"), ("env", "=~", "prod|staging")], action="preview"
        ),
    )
    assert answer.status_code == 200
    shown = answer.text.split('id="preview"')[1]
    assert "It would match 2 firing alerts" in shown
    assert "Checkout p99" in shown and "Checkout errors" in shown and "Search" not in shown
    assert 'value="prod|staging"' in answer.text  # the rows are kept for Create
    assert silence_count(runtime) == 0
    # The preview never names an alert of an incident the responder may not see.
    everything = client.post(
        "/silences", data=form(csrf, [("env", "=", "prod")], action="preview")
    ).text
    assert MARKER not in everything and "It would match 2 firing alerts" in everything


def test_create_then_expire_a_silence(
    client: TestClient, alerts: None, runtime: Runtime, clock: FrozenClock
) -> None:
    csrf = sign_in(client, "rita")
    created = client.post(
        "/silences",
        data=form(csrf, [("service", "=", "checkout"), ("env", "!=", "dev")], action="create"),
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/silences"
    with runtime.db.session() as session:
        silence = session.scalars(select(Silence)).one()
        assert silence.matchers == ['service="checkout"', 'env!="dev"']
        assert silence.created_by == "rita" and silence.comment == "DB upgrade"
        assert silence.ends_at - silence.starts_at == timedelta(hours=2)
        silence_id = silence.id
    page = client.get("/silences").text
    assert "<code>service=&#34;checkout&#34;</code>" in page
    assert f'data-confirm="Expire silence #{silence_id}' in page
    alerts_page = client.get("/alerts").text
    assert alerts_page.count(f"silenced by #{silence_id}") == 2

    expired = client.post(
        f"/silences/{silence_id}/expire", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert expired.status_code == 303
    with runtime.db.session() as session:
        assert session.get(Silence, silence_id).expired_by == "rita"  # type: ignore[union-attr]
    again = client.post(f"/silences/{silence_id}/expire", data={"csrf_token": csrf})
    assert again.status_code == 409 and "already expired" in again.text
    assert "silenced by" not in client.get("/alerts").text


def test_an_end_time_is_read_in_the_viewers_zone(
    client: TestClient, alerts: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    client.post("/profile/preferences", data={"csrf_token": csrf, "time_zone": "Asia/Tokyo"})
    now = runtime.clock.now()
    end = (now.astimezone(ZoneInfo("Asia/Tokyo"))).replace(
        tzinfo=None, microsecond=0, second=0
    ) + timedelta(hours=3)
    created = client.post(
        "/silences",
        data=form(csrf, [("service", "=", "search")], ends_at=end.isoformat(timespec="minutes")),
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    with runtime.db.session() as session:
        silence = session.scalars(select(Silence)).one()
        assert abs((silence.ends_at - now).total_seconds() - 3 * 3600) < 60


REFUSED: list[tuple[list[tuple[str, str, str]], dict[str, str], str]] = [
    ([], {}, "a silence needs at least one matcher"),
    ([("service", "=~", "(check")], {}, "invalid regular expression"),
    ([("9lives", "=", "x")], {}, "label name"),
    ([("", "=", "checkout")], {}, "must start with a label name"),
    ([("service", "~", "x")], {}, "unknown operator"),
    ([("service", "=", "checkout")], {"comment": " "}, "say why in the comment"),
    ([("service", "=", "checkout")], {"duration": "soon"}, "say it like 45m"),
    ([("service", "=", "checkout")], {"duration": "400d"}, "at most 366 days"),
    ([("service", "=", "checkout")], {"ends_at": "2001-01-01T00:00"}, "in the past"),
    ([("service", "=", "checkout")], {"ends_at": "tomorrow"}, "give a date and time"),
]


def test_a_bad_silence_is_refused_with_the_reason_and_nothing_written(
    client: TestClient, alerts: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    for rows, fields, reason in REFUSED:
        # A bad matcher is refused by Preview as well; the window only matters to Create.
        for action in ("create", "preview") if not fields else ("create",):
            answer = client.post("/silences", data=form(csrf, rows, action=action, **fields))
            assert answer.status_code == 422, (reason, action, answer.text)
            assert reason in answer.text, (reason, action)
            assert 'role="alert"' in answer.text
    assert silence_count(runtime) == 0


def test_viewers_see_silences_but_cannot_create_or_expire(
    client: TestClient, alerts: None, runtime: Runtime
) -> None:
    csrf = sign_in(client, "vic")
    page = client.get("/silences")
    assert page.status_code == 200 and "New silence" not in page.text
    refused = client.post("/silences", data=form(csrf, [("service", "=", "checkout")]))
    assert refused.status_code == 403
    assert client.post("/silences/1/expire", data={"csrf_token": csrf}).status_code == 403
    assert silence_count(runtime) == 0


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, alerts: None, runtime: Runtime
) -> None:
    sign_in(client, "rita")
    answer = client.post("/silences", data=form("", [("service", "=", "checkout")]))
    assert answer.status_code in (303, 403)
    assert silence_count(runtime) == 0
