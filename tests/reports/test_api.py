"""GET /api/v1/metrics/incidents and incidents.csv on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, create_engine, insert
from sqlalchemy.orm import Session

from tests.conftest import START
from tests.reports.conftest import MIN, NOW, make
from warroom.incidents.models import Incident
from warroom.reports import service
from warroom.reports.service import Selection
from warroom.runtime import Runtime

URL = "/api/v1/metrics/incidents"


def report(api: TestClient, **params: Any) -> dict[str, Any]:
    response = api.get(URL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_counts_means_and_percentiles(api: TestClient, known: list[int]) -> None:
    body = report(api)
    assert body["total"] == 4  # the 40-day-old incident is outside the default 30 days
    assert body["period"]["since"].startswith("2026-02-01T09:00:00")
    assert body["counts"] == {
        "severity": {"SEV-1": 1, "SEV-2": 2, "SEV-3": 1},
        "service": {"(none)": 1, "checkout": 2, "search": 1},
        "type": {"default": 3, "resource-saturation": 1},
        "status": {"closed": 1, "resolved": 2, "triaged": 1},
    }
    overall = body["durations"]
    assert overall["mtta"] == {"mean": 270.0, "p50": 210.0, "p90": 510.0, "count": 4}
    assert overall["mttm"] == {"mean": 3000.0, "p50": 1200.0, "p90": 6000.0, "count": 3}
    assert overall["mttr"] == {"mean": 4200.0, "p50": 3600.0, "p90": 6480.0, "count": 3}
    assert overall["mttd"] == {"mean": 450.0, "p50": 450.0, "p90": 570.0, "count": 2}
    sev2 = body["by_severity"]["SEV-2"]
    assert sev2["mtta"] == {"mean": 210.0, "p50": 210.0, "p90": 282.0, "count": 2}
    assert sev2["mttr"] == {"mean": 3600.0, "p50": 3600.0, "p90": 3600.0, "count": 1}
    assert sev2["mttd"]["count"] == 1
    assert list(body["by_service"]) == ["(none)", "checkout", "search"]
    assert body["by_service"]["search"]["mttm"] == {
        "mean": None,
        "p50": None,
        "p90": None,
        "count": 0,
    }
    assert body["by_service"]["checkout"]["mttr"]["mean"] == 2700.0
    assert body["overdue"] == {
        "postmortems": 0,
        "action_items": 0,
        "note": None,
        "late_postmortems": [],
        "late_action_items": [],
    }


def test_filters(api: TestClient, known: list[int]) -> None:
    assert report(api, since="60d")["total"] == 5
    assert report(api, since="60d", until="30d")["counts"]["service"] == {"checkout": 1}
    assert report(api, severity="SEV-2")["counts"]["severity"] == {"SEV-2": 2}
    both = report(api, severity=["SEV-1", "SEV-3"])
    assert both["total"] == 2
    assert report(api, severity="SEV-1,SEV-3")["total"] == 2
    checkout = report(api, service="checkout")
    assert checkout["total"] == 2
    assert checkout["durations"]["mtta"]["mean"] == 90.0
    assert report(api, service="(none)")["counts"]["severity"] == {"SEV-3": 1}
    assert report(api, service="search,(none)")["total"] == 2
    window = report(api, since=(START + 2 * MIN).isoformat(), until="2026-03-02T09:04:00Z")
    assert window["total"] == 2  # detected at 09:02 and 09:03; until is exclusive
    assert window["period"]["until"] == "2026-03-02T09:04:00Z"
    naive = report(api, since="2026-03-02T09:03:00")  # naive means UTC
    assert naive["total"] == 2
    assert report(api, since="1s")["total"] == 0


@pytest.mark.parametrize(
    ("params", "field", "text"),
    [
        ({"since": "yesterday"}, "since", "neither a duration"),
        ({"until": "2026-13-01"}, "until", "neither a duration"),
        ({"since": "1d", "until": "2d"}, "since", "must be before until"),
        ({"since": "2026-03-02T10:00:00Z", "until": "2026-03-02T10:00:00Z"}, "since", "before"),
        ({"severity": "SEV-9"}, "severity", "unknown severity SEV-9"),
        ({"severity": "SEV-1,sev2"}, "severity", "unknown severity sev2"),
        ({"service": "billing"}, "service", "unknown service billing"),
        ({"since": "1" * 65}, "since", "at most 64"),
        ({"since": "999999999d"}, "since", "reaches back before the year 1"),
        ({"since": "99999999999999d"}, "since", "too long a duration"),
        ({"until": "0001-01-01T00:00:00"}, "until", "leaves no room for a period"),
    ],
)
def test_bad_query_values_are_422(
    api: TestClient, known: list[int], params: dict[str, str], field: str, text: str
) -> None:
    for url in (URL, URL + ".csv"):
        response = api.get(url, params=params)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert text in error["message"]
        assert field in str(error["details"])


def test_viewer_may_read_and_anonymous_may_not(
    client: TestClient, tokens: dict[str, str], known: list[int]
) -> None:
    assert client.get(URL).status_code == 401
    assert client.get(URL + ".csv").status_code == 401
    viewer = {"Authorization": f"Bearer {tokens['viewer']}"}
    assert client.get(URL, headers=viewer).status_code == 200
    assert client.get(URL + ".csv", headers=viewer).status_code == 200


def test_csv_rows_quoting_and_durations(
    api: TestClient, runtime: Runtime, known: list[int]
) -> None:
    odd = make(
        runtime,
        '=HYPERLINK("x"), "quoted", and\nnew line',
        severity="SEV-4",
        status="detected",
        detected=START + 5 * MIN,
    )
    response = api.get(URL + ".csv", params={"since": "2d"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "incidents.csv" in response.headers["content-disposition"]
    assert response.text.startswith("ref,title,severity,service,type,status,")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [r["ref"] for r in rows] == ["INC-1", "INC-2", "INC-3", "INC-4", f"INC-{odd}"]
    first = rows[0]
    assert (first["severity"], first["service"], first["status"]) == ("SEV-1", "checkout", "closed")
    assert first["detected_at"] == "2026-03-02T09:00:00+00:00"
    assert first["started_at"] == "2026-03-02T08:50:00+00:00"
    assert [first[f"time_to_{n}_s"] for n in ("detect", "acknowledge", "mitigate", "resolve")] == [
        "600",
        "60",
        "600",
        "1800",
    ]
    assert rows[2]["time_to_mitigate_s"] == "" and rows[2]["mitigated_at"] == ""
    assert rows[3]["service"] == ""
    # The quoted title survives intact, defused so a spreadsheet does not run it.
    assert rows[4]["title"] == '\'=HYPERLINK("x"), "quoted", and\nnew line'
    assert len(rows) == 5


def test_csv_filters_and_empty(api: TestClient, known: list[int]) -> None:
    rows = list(
        csv.DictReader(io.StringIO(api.get(URL + ".csv", params={"service": "search"}).text))
    )
    assert [r["ref"] for r in rows] == ["INC-3"]
    empty = api.get(URL + ".csv", params={"since": "1s"})
    assert empty.text.count("\r\n") == 1  # the header alone


def _rows(session: Session, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=session.connection())


def test_overdue_postmortems_and_action_items(
    api: TestClient, runtime: Runtime, known: list[int]
) -> None:
    with runtime.db.transaction() as session:
        postmortems, items = (
            _rows(session, "postmortems"),
            _rows(session, "postmortem_action_items"),
        )
        ids = {
            number: session.scalar(
                Incident.__table__.select()
                .with_only_columns(Incident.id)
                .where(Incident.number == number)
            )
            for number in known[:3]
        }
        blank = {"summary": "", "impact": "", "root_cause": "", "five_whys": [], "fishbone": {}}
        blank |= {"contributing_factors": [], "went_well": [], "went_poorly": [], "got_lucky": []}
        for number, status, due in (
            (known[0], "draft", NOW - timedelta(days=1)),  # overdue
            (known[1], "done", NOW - timedelta(days=1)),  # done: not overdue
            (known[2], "in_review", NOW + timedelta(days=1)),  # not due yet
        ):
            session.execute(
                insert(postmortems).values(
                    incident_id=ids[number],
                    status=status,
                    required=True,
                    due_at=due,
                    created_at=NOW,
                    updated_at=NOW,
                    **blank,
                )
            )
        first = session.scalar(
            postmortems.select()
            .with_only_columns(postmortems.c.id)
            .where(postmortems.c.incident_id == ids[known[0]])
        )
        for status, due in (
            ("open", NOW.date() - timedelta(days=2)),  # overdue
            ("open", NOW.date()),  # due today: not yet overdue
            ("done", NOW.date() - timedelta(days=2)),
            ("open", None),
        ):
            session.execute(
                insert(items).values(
                    postmortem_id=first,
                    kind="short_term",
                    title=f"fix it ({status}, {due})",
                    owner="bob",
                    due_date=due,
                    status=status,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    overdue = report(api)["overdue"]
    assert (overdue["postmortems"], overdue["action_items"]) == (1, 1)
    (late,) = overdue["late_postmortems"]
    assert (late["incident"], late["status"]) == (f"INC-{known[0]}", "draft")
    assert late["due_at"].startswith((NOW - timedelta(days=1)).date().isoformat())
    (item,) = overdue["late_action_items"]
    assert (item["incident"], item["owner"], item["jira_key"]) == (f"INC-{known[0]}", "bob", None)
    assert item["title"] == f"fix it (open, {NOW.date() - timedelta(days=2)})"
    assert report(api, severity="SEV-2")["overdue"] == {
        "postmortems": 0,
        "action_items": 0,
        "note": None,
        "late_postmortems": [],
        "late_action_items": [],
    }
    assert report(api, service="checkout")["overdue"]["postmortems"] == 1


def test_overdue_is_null_without_the_postmortem_tables(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    Incident.__table__.metadata.create_all(engine, tables=[Incident.__table__])
    with Session(engine) as session:
        found = service.overdue(session, selection=Selection(since=START, until=NOW), now=NOW)
    engine.dispose()
    assert (found.postmortems, found.action_items) == (None, None)
    assert found.note and "not recorded" in found.note


def test_percentile_interpolates_between_ranks() -> None:
    assert service.percentile([5.0], 0.9) == 5.0
    assert service.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0
    assert service.percentile([0.0, 10.0], 0.9) == 9.0
    assert service.stat([]).model_dump() == {"mean": None, "p50": None, "p90": None, "count": 0}
