"""Jira Cloud `jira:issue_created` as a user report, signed with `X-Hub-Signature: sha256=`."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from warroom.core.errors import Invalid
from warroom.detection.sources import jira

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "jira"


def fixture(name: str) -> bytes:
    """Return a hand-written Jira payload."""
    return (FIXTURES / name).read_bytes()


def sig(secret: str, body: bytes) -> str:
    """Return the WebSub-style signature Jira sends."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


BODY = fixture("issue_created.json")


def test_valid_signature_and_rotation() -> None:
    assert jira.verify(BODY, {"X-Hub-Signature": sig("a", BODY)}, ["a"]) == 0
    assert jira.verify(BODY, {"x-hub-signature": sig("b", BODY)}, ["a", "b"]) == 1
    assert jira.verify(BODY, {"X-Hub-Signature": sig("b", BODY).upper()}, ["b"]) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature": ""},
        {"X-Hub-Signature": sig("wrong", BODY)},
        {"X-Hub-Signature": sig("a", BODY).removeprefix("sha256=")},
        {"X-Hub-Signature": "sha1=" + hmac.new(b"a", BODY, hashlib.sha1).hexdigest()},
        {"X-Hub-Signature": "sha256="},
        {"X-Hub-Signature-256": sig("a", BODY)},
    ],
)
def test_rejected_signatures(headers: dict[str, str]) -> None:
    assert jira.verify(BODY, headers, ["a"]) is None


def test_tampered_body() -> None:
    headers = {"X-Hub-Signature": sig("a", BODY)}
    assert jira.verify(BODY.replace(b"High", b"Low"), headers, ["a"]) is None


def test_issue_created_v2_string_description() -> None:
    [alert] = jira.parse(BODY)
    assert alert.kind == "report"
    assert alert.source == "jira"
    assert alert.status == "firing"
    assert alert.fingerprint == "jira:OPS-17"
    assert alert.title == "Customers cannot pay with saved cards"
    assert alert.summary is not None and alert.summary.startswith("Since about 09:50")
    assert alert.reporter == "Bob Ruiz"
    assert alert.severity == "High"
    assert alert.labels == {"project": "OPS", "issuetype": "Bug"}
    assert alert.links == [
        {"title": "Jira OPS-17", "url": "https://acme.atlassian.net/browse/OPS-17"}
    ]
    assert alert.starts_at == datetime(2026, 3, 2, 9, 0, 5, 101000, UTC)
    assert alert.raw["key"] == "OPS-17"


def test_issue_created_v3_adf_description() -> None:
    [alert] = jira.parse(fixture("issue_created_adf.json"))
    assert alert.fingerprint == "jira:OPS-18"
    assert alert.summary == (
        "The status page still shows all green.\nReported by @Bob Ruiz\nEU region\nUS region"
    )
    assert alert.reporter == "carol@example.com"  # no display name
    assert alert.severity == "Highest"
    assert alert.links[0]["url"] == "https://acme.atlassian.net/browse/OPS-18"


def test_other_events_are_ignored() -> None:
    assert jira.parse(fixture("issue_updated.json")) == []


def _payload() -> dict[str, Any]:
    return dict(json.loads(BODY))


def test_reporter_falls_back_to_the_acting_user_and_odd_created_is_left_out() -> None:
    payload = _payload()
    payload["issue"]["fields"]["reporter"] = None
    payload["issue"]["fields"]["description"] = None
    payload["issue"]["fields"]["created"] = "02/Mar/26 10:00"
    [alert] = jira.parse(json.dumps(payload).encode())
    assert alert.reporter == "Bob Ruiz"
    assert alert.summary is None
    assert alert.starts_at is None


@pytest.mark.parametrize(
    ("self_url", "expected"),
    [
        (
            "https://acme.atlassian.net/rest/api/2/issue/10042",
            "https://acme.atlassian.net/browse/K-1",
        ),
        (
            "http://jira.local:8080/jira/rest/api/2/issue/1",
            "http://jira.local:8080/jira/browse/K-1",
        ),
        ("https://acme.atlassian.net/", "https://acme.atlassian.net/browse/K-1"),
        ("javascript:alert(1)", None),
        (None, None),
    ],
)
def test_browse_url(self_url: str | None, expected: str | None) -> None:
    assert jira.browse_url(self_url, "K-1") == expected


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.pop("webhookEvent"), "^webhookEvent is required$"),
        (lambda p: p.pop("issue"), "^issue is required$"),
        (lambda p: p["issue"].pop("key"), "^issue.key is required$"),
        (lambda p: p["issue"]["fields"].pop("summary"), "^issue.fields.summary is required$"),
        (lambda p: p["issue"]["fields"].update(priority="High"), "^issue.fields.priority must"),
        (
            lambda p: p["issue"]["fields"].update(description=["x"]),
            "^issue.fields.description must be text or a document, not an array$",
        ),
    ],
)
def test_wrong_schema(mutate: Any, message: str) -> None:
    payload = _payload()
    mutate(payload)
    with pytest.raises(Invalid, match=message):
        jira.parse(json.dumps(payload).encode())


def test_malformed_json() -> None:
    with pytest.raises(Invalid, match="malformed JSON"):
        jira.parse(b"<html>")


# jira:issue_updated: status changes for postmortem action items linked to the issue


def _updated() -> dict[str, Any]:
    return dict(json.loads(fixture("issue_updated.json")))


def test_a_status_change_is_an_update() -> None:
    update = jira.parse_update(fixture("issue_updated.json"))
    assert update == jira.IssueUpdate(key="OPS-17", status="To Do", category=None, user="Bob Ruiz")
    payload = _updated()
    payload["issue"]["fields"]["status"] = {"name": "Done", "statusCategory": {"key": "done"}}
    update = jira.parse_update(json.dumps(payload).encode())
    assert update is not None and (update.status, update.category) == ("Done", "done")


def test_the_changelog_names_the_status_when_the_issue_does_not() -> None:
    payload = _updated()
    del payload["issue"]["fields"]["status"]
    update = jira.parse_update(json.dumps(payload).encode())
    assert update is not None and update.status == "In Progress"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(webhookEvent="jira:issue_created"),
        lambda p: p.update(webhookEvent="comment_created"),
        lambda p: p.pop("changelog"),
        lambda p: p["changelog"].update(items=[{"field": "summary", "toString": "New"}]),
        lambda p: p["changelog"].update(items="status"),
    ],
)
def test_anything_but_a_status_change_is_no_update(mutate: Any) -> None:
    payload = _updated()
    mutate(payload)
    assert jira.parse_update(json.dumps(payload).encode()) is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p["issue"].pop("key"), "^issue.key is required$"),
        (lambda p: p["issue"]["fields"].update(status="Done"), "^issue.fields.status must be"),
        (
            lambda p: p["issue"]["fields"].update(status={"name": "Done", "statusCategory": 3}),
            "^issue.fields.status.statusCategory must be an object",
        ),
    ],
)
def test_a_malformed_update_is_invalid(mutate: Any, message: str) -> None:
    payload = _updated()
    mutate(payload)
    with pytest.raises(Invalid, match=message):
        jira.parse_update(json.dumps(payload).encode())


def test_issues_warroom_made_for_action_items_are_not_reports() -> None:
    payload = _payload()
    payload["issue"]["fields"]["labels"] = ["warroom", "warroom-action-12"]
    assert jira.parse(json.dumps(payload).encode()) == []
    payload["issue"]["fields"]["labels"] = ["warroom-actions-review"]  # not ours: a report
    assert len(jira.parse(json.dumps(payload).encode())) == 1
