"""`/readyz` and `/metrics` need no token, so anonymous callers get status alone: no file
path, no error text. An admin's token brings the details (issue 15, hardening)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from warroom.api import health
from warroom.runtime import Runtime

SECRET_PATH = "/srv/warroom/secret-data/warroom.db"


def broken(*_args: object, **_kwargs: object) -> Iterator[None]:
    """Stand in for a database that cannot be opened, with a path in its error."""
    raise OperationalError("SELECT 1", {}, Exception(f"unable to open database file {SECRET_PATH}"))


@pytest.fixture
def failing(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database that fails and a runbook directory with a problem naming its path."""
    monkeypatch.setattr(runtime.db, "session", contextlib.contextmanager(broken))
    monkeypatch.setattr(
        runtime.runbooks, "problems", lambda: [f"{SECRET_PATH}/active is not writable"]
    )
    monkeypatch.setattr(health.incident_metrics, "exposition", lambda *_: next(broken()))


def admin(tokens: dict[str, str]) -> dict[str, str]:
    """Return the headers of an admin's request."""
    return {"Authorization": f"Bearer {tokens['admin']}"}


@pytest.mark.usefixtures("failing")
def test_anonymous_readyz_says_which_check_failed_and_nothing_more(
    client: TestClient, tokens: dict[str, str]
) -> None:
    for headers in (
        {},
        {"Authorization": f"Bearer {tokens['responder']}"},
        {"Authorization": "Bearer nope"},
    ):
        answer = client.get("/readyz", headers=headers)
        assert answer.status_code == 503
        assert SECRET_PATH not in answer.text and "unable to open" not in answer.text
        body = answer.json()
        assert body["status"] == "not ready"
        assert body["checks"]["database"] == {"ok": False}
        assert body["checks"]["runbooks"] == {"ok": False}
        assert all(set(check) == {"ok"} for check in body["checks"].values())
    details = client.get("/readyz", headers=admin(tokens)).json()["checks"]
    assert SECRET_PATH in details["database"]["error"]
    assert details["runbooks"]["problems"] == [f"{SECRET_PATH}/active is not writable"]
    assert "root" in details["runbooks"]


def test_readyz_when_all_is_well(client: TestClient, tokens: dict[str, str]) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["checks"]["runbooks"] == {"ok": True}
    details = client.get("/readyz", headers=admin(tokens)).json()["checks"]
    assert details["migrations"]["current"] == details["migrations"]["head"]


@pytest.mark.usefixtures("failing")
def test_metrics_scrape_failure_shows_no_error_text_to_anonymous(
    client: TestClient, tokens: dict[str, str]
) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 503
    assert answer.text == "# metrics unavailable: unavailable\n"
    assert SECRET_PATH not in answer.text
    detailed = client.get("/metrics", headers=admin(tokens))
    assert detailed.status_code == 503 and SECRET_PATH in detailed.text


def test_metrics_answer_anyone_when_well(client: TestClient) -> None:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert "warroom_open_incidents" in answer.text
