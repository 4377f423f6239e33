"""`warroom serve` prepares every route before its first request, so no first request waits
for FastAPI to analyse a router's dependencies."""

from __future__ import annotations

import pytest
from fastapi.dependencies import utils
from fastapi.testclient import TestClient

from warroom.app import create_app, warm_routes
from warroom.runtime import Runtime


def forbid_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any analysis of a route's dependencies from now on fail loudly."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a route's dependencies were analysed during a request")

    monkeypatch.setattr(utils, "get_typed_signature", refuse)


PATHS = ("/healthz", "/api/v1/incidents", "/sign-in", "/status", "/api/v1/me")


def test_after_warming_no_request_analyses_a_route(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(runtime)
    warm_routes(app)
    forbid_analysis(monkeypatch)
    with TestClient(app) as client:
        answers = {path: client.get(path).status_code for path in PATHS}
    # Answered (signed out where a sign-in is needed), none failed inside.
    assert all(status < 500 for status in answers.values()), answers
    assert answers["/healthz"] == 200 and answers["/api/v1/incidents"] == 401


def test_without_warming_the_first_request_would_analyse_its_router(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the warm-up saves: the same request on a cold app needs the analysis.
    app = create_app(runtime)
    forbid_analysis(monkeypatch)
    with (
        TestClient(app, raise_server_exceptions=True) as client,
        pytest.raises(AssertionError, match="analysed during a request"),
    ):
        client.get("/api/v1/incidents")
