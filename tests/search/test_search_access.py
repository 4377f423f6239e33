"""Search and restricted incidents: an outsider never finds one, counts one or reads a quote."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

# test_visibility's people and its restricted breach (INC-1) beside a public INC-2.
from tests.api.test_visibility import MARKER, breach, config, who  # noqa: F401
from tests.conftest import make_token
from warroom.runtime import Runtime

SEARCH = "/api/v1/search"
INCIDENTS = "/api/v1/incidents"


def search(client: TestClient, headers: dict[str, str], q: str, **params: Any) -> Any:
    """Search as someone; return the body of the 200."""
    answer = client.get(SEARCH, params={"q": q, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_outsiders_find_count_and_quote_nothing_of_it(
    client: TestClient, request: pytest.FixtureRequest
) -> None:
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    hidden: str = request.getfixturevalue("breach")
    ada = people["ada"]
    note = {"text": f"Attacker pivoted through the exposed jump host {MARKER}"}
    assert client.post(f"{INCIDENTS}/{hidden}/timeline", json=note, headers=ada).status_code == 201
    public = {"title": "Exposed debug endpoint on staging"}
    assert client.post(INCIDENTS, json=public, headers=ada).status_code == 201
    for outsider in ("bob", "vic"):
        for q in (MARKER, "customer data", "pivoted", "injection", "attacker"):
            body = search(client, people[outsider], q)
            assert (body["items"], body["total"], body["next_page"]) == ([], 0, None), q
        # A word both share: the public one only, counted alone, even filtered to the type.
        body = search(client, people[outsider], "exposed")
        assert [item["ref"] for item in body["items"]] == ["INC-3"]
        assert body["total"] == 1
        assert MARKER not in str(body)
        assert search(client, people[outsider], "exposed", type="security")["total"] == 0
        paged = search(client, people[outsider], "exposed", per_page=1, page=2)
        assert (paged["items"], paged["total"]) == ([], 1)


def test_insiders_find_it_with_a_quote(
    client: TestClient, runtime: Runtime, request: pytest.FixtureRequest
) -> None:
    people: dict[str, dict[str, str]] = request.getfixturevalue("who")
    hidden: str = request.getfixturevalue("breach")
    carol = {"Authorization": f"Bearer {make_token(runtime, 'carol', 'viewer')}"}
    for headers in (people["ada"], people["alice"], carol):  # admin, access team, commander
        body = search(client, headers, "injection")
        assert [item["ref"] for item in body["items"]] == [hidden]
        assert body["total"] == 1
        assert body["items"][0]["visibility"] == "restricted"
        assert "injection" in [p["text"].lower() for p in body["items"][0]["highlights"]]
    # Let in by a grant: found from then on.
    assert search(client, people["bob"], "injection")["total"] == 0
    grant = {"person": "bob", "reason": "owns the login service"}
    let_in = client.post(f"{INCIDENTS}/{hidden}/access", json=grant, headers=people["alice"])
    assert let_in.status_code == 200, let_in.text
    assert [i["ref"] for i in search(client, people["bob"], "injection")["items"]] == [hidden]
