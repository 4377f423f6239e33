"""Postmortem routes over HTTP, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from tests.helpers import verify
from tests.postmortem.conftest import WHYS, base, counts, declare, ok, walk
from warroom.core.clock import FrozenClock
from warroom.incidents.service import get
from warroom.postmortem import service
from warroom.runtime import Runtime

SVG = "{http://www.w3.org/2000/svg}"


def test_created_on_resolve_due_in_business_days_across_a_weekend(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 3, 5, 10, 0, tzinfo=UTC))  # a Thursday
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    minor = declare(api, "Typo on the help page", severity="SEV-4")
    for incident in (ref, minor):
        verify(api, incident)
    ok(api.post(f"/api/v1/incidents/{ref}/resolve", json={}))
    ok(api.post(f"/api/v1/incidents/{minor}/resolve", json={}))
    with runtime.db.session() as session:  # made by the resolve itself, before any GET
        required = service.find(session, get(session, ref))
        optional = service.find(session, get(session, minor))
        assert required is not None and optional is not None
        # Thursday + 5 working days skips Saturday and Sunday: the next Thursday.
        assert required.due_at == datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
        assert (required.required, required.status) == (True, "draft")
        assert (optional.required, optional.due_at) == (False, None)
    pm = ok(api.get(base(ref)))
    assert pm["due_at"].startswith("2026-03-12T10:00")
    assert list(pm["fishbone"]) == ["People", "Process", "Technology", "Environment", "Tools"]
    assert pm["timeline"]["events"][-1]["kind"] == "resolved"  # creating it is no event
    assert counts(runtime) == (2, 0, 0)  # GET found them: no second creation


def test_business_days() -> None:
    friday = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    assert service.add_business_days(friday, 1) == datetime(2026, 3, 9, 17, 0, tzinfo=UTC)
    assert service.add_business_days(friday, 0) == friday
    saturday = datetime(2026, 3, 7, 8, 0, tzinfo=UTC)
    assert service.add_business_days(saturday, 5) == datetime(2026, 3, 13, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"five_whys": WHYS}),
        ("POST", "/action-items", {"kind": "short_term", "title": "Add an alert"}),
        ("GET", "/fishbone.svg", None),
        ("POST", "/export", None),
    ],
)
def test_open_incident_is_409_and_nothing_is_written(
    runtime: Runtime, api: TestClient, method: str, suffix: str, body: Any
) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    response = api.request(method, base(ref) + suffix, json=body)
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "conflict"
    assert error["message"] == f"{ref} is detected: its postmortem starts when it is resolved"
    assert counts(runtime) == (0, 0, 0)
    assert not list(runtime.runbooks.archive.glob("*postmortem*"))


def test_not_found(api: TestClient) -> None:
    assert api.get(base("INC-99")).status_code == 404
    assert api.put(base("INC-99"), json={"five_whys": WHYS}).status_code == 404
    response = api.patch("/api/v1/postmortems/action-items/7", json={"status": "done"})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no action item 7"
    assert api.get(base("nonsense") + "/fishbone.svg").status_code == 404


FULL = {
    "summary": "Checkout was slow for 45 minutes.",
    "impact": "12% of orders failed.",
    "root_cause": "A memory leak in the new recommendations feature.",
    "five_whys": WHYS,
    "fishbone": {
        "Technology": ["Memory leak in recommendations"],
        "Process": ["No soak test before release"],
        "Vendors": ["CDN cache purge was slow"],
    },
    "contributing_factors": ["Alert threshold too high"],
    "went_well": ["Rollback took two minutes"],
    "went_poorly": ["Paging reached the wrong team first"],
    "got_lucky": ["It happened off-peak"],
    "status": "in_review",
}


@pytest.mark.parametrize(
    ("whys", "message"),
    [
        ([], "five_whys needs at least one why"),
        (WHYS * 3, "five_whys has 15 entries; at most 10"),
        (
            [*WHYS[:2], "why?"],
            "five_whys[2] must be an object with exactly 'question' and 'answer'",
        ),
        ([{"question": "Why?"}], "five_whys[0] must be an object with exactly"),
        ([{"question": "Why?", "answer": "x", "extra": 1}], "five_whys[0] must be an object"),
        ([WHYS[0], {"question": "Why?", "answer": "   "}], "five_whys[1].answer must be non-empty"),
        ([{"question": 3, "answer": "x"}], "five_whys[0].question must be non-empty text"),
        ([{"question": "Why?", "answer": "x" * 2_001}], "five_whys[0].answer is longer than"),
    ],
)
def test_malformed_five_whys_are_422_and_nothing_is_written(
    runtime: Runtime, api: TestClient, clock: FrozenClock, whys: list[Any], message: str
) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    ok(api.put(base(ref), json=FULL))
    before, written = ok(api.get(base(ref))), counts(runtime)
    response = api.put(
        base(ref), json={**FULL, "summary": "changed", "status": "done", "five_whys": whys}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(message)
    assert ok(api.get(base(ref))) == before
    assert counts(runtime) == written


def test_put_replaces_fields_and_keeps_configured_bones_first(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    ok(api.post(f"/api/v1/incidents/{ref}/roles", json={"role": "scribe", "person": "sam"}))
    walk(api, clock, ref, severity="SEV-2")
    pm = ok(api.put(base(ref), json=FULL, headers={"X-Warroom-Client": "cli"}))
    assert list(pm["fishbone"]) == [
        "People", "Process", "Technology", "Environment", "Tools", "Vendors",
    ]  # fmt: skip
    assert pm["fishbone"]["Technology"] == ["Memory leak in recommendations"]
    assert (pm["status"], pm["updated_by"], pm["five_whys"]) == ("in_review", "rita", WHYS)
    assert pm["responders"] == ["rita", "sam"]  # the IC (the declarer here), roles, actors
    events = [e for e in pm["timeline"]["events"] if e["kind"] == "postmortem"]
    assert events[-1]["text"] == "Postmortem is now in review (was draft)"
    # PUT replaces: what is left out goes back to its default.
    pm = ok(api.put(base(ref), json={"five_whys": WHYS[:1], "status": "in_review"}))
    assert (pm["summary"], pm["went_well"], pm["fishbone"]["Technology"]) == ("", [], [])
    assert "Vendors" not in pm["fishbone"]
    for bad, field in [
        ({"fishbone": {"People": "not a list"}}, "fishbone['People'] must be a list"),
        ({"fishbone": {" ": []}}, "fishbone category ' ' must be 1 to 64"),
        ({"fishbone": {"vendors": [], "Vendors ": []}}, "category 'Vendors' is given twice"),
        ({"went_well": ["ok", ""]}, "went_well[1] must be non-empty text"),
        ({"status": "published"}, "status:"),
        ({"owner": "x"}, "owner:"),
    ]:
        response = api.put(base(ref), json={"five_whys": WHYS, **bad})
        assert response.status_code == 422, response.text
        assert field in response.json()["error"]["message"]


def test_a_category_in_other_case_is_the_configured_bone(
    api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    saved = ok(api.put(base(ref), json={"five_whys": WHYS, "fishbone": {"people": ["Tired"]}}))
    assert saved["fishbone"]["People"] == ["Tired"] and "people" not in saved["fishbone"]


def test_action_item_owners_must_be_people_when_people_are_configured(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    from warroom.config import WarroomConfig

    people = [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}]  # alice leads
    runtime.config_value = WarroomConfig.model_validate({"people": people})
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    items = base(ref) + "/action-items"
    refused = api.post(items, json={"kind": "short_term", "title": "Fix", "owner": "nobody|x"})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"].startswith(
        "unknown person 'nobody|x'; use one of alice, bob"
    )
    assert ok(api.get(base(ref)))["action_items"] == []  # nothing written
    created = api.post(items, json={"kind": "short_term", "title": "Fix", "owner": "bob"})
    assert created.status_code == 201, created.text
    url = f"/api/v1/postmortems/action-items/{created.json()['id']}"
    assert api.patch(url, json={"owner": "mallory"}).status_code == 422
    typo = api.patch(url, json={"owner": "bbo"})
    assert typo.json()["error"]["message"] == (
        "unknown person 'bbo' — did you mean 'bob'? (people are configured in warroom.yaml)"
    )
    assert api.patch(url, json={"owner": None}).status_code == 200


def test_action_items(runtime: Runtime, api: TestClient, clock: FrozenClock) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    item = ok(
        api.post(
            base(ref) + "/action-items",
            json={"kind": "short_term", "title": "Raise the memory limit", "owner": "bob",
                  "due_date": "2026-03-10", "jira_key": "OPS-12"},
        ),
        201,
    )  # fmt: skip
    assert (item["incident"], item["status"], item["jira_key"]) == (ref, "open", "OPS-12")
    url = f"/api/v1/postmortems/action-items/{item['id']}"
    changed = ok(api.patch(url, json={"status": "done", "owner": None}))
    assert (changed["status"], changed["owner"], changed["due_date"]) == (
        "done",
        None,
        "2026-03-10",
    )
    pm = ok(api.get(base(ref)))
    assert [i["title"] for i in pm["action_items"]] == ["Raise the memory limit"]
    texts = [e["text"] for e in pm["timeline"]["events"] if e["kind"] == "postmortem"]
    assert texts[-2:] == [
        "Action item added: Raise the memory limit",
        f"Action item {item['id']} changed: owner=—, status=done",
    ]
    written = counts(runtime)
    for bad in [
        {"kind": "someday", "title": "x"},
        {"kind": "long_term", "title": ""},
        {"kind": "long_term", "title": "x", "jira_key": "not a key"},
        {"kind": "long_term", "title": "x", "due_date": "next week"},
        {"kind": "long_term", "title": "x", "status": "maybe"},
    ]:
        assert api.post(base(ref) + "/action-items", json=bad).status_code == 422, bad
    for bad in [{}, {"title": None}, {"status": None}, {"status": "maybe"}, {"id": 3}]:
        assert api.patch(url, json=bad).status_code == 422, bad
    assert (
        api.patch("/api/v1/postmortems/action-items/0", json={"status": "done"}).status_code == 422
    )
    assert counts(runtime) == written


def test_roles(
    runtime: Runtime, client: TestClient, tokens: dict[str, str], clock: FrozenClock
) -> None:
    client.headers["Authorization"] = f"Bearer {tokens['responder']}"
    ref = declare(client, "Checkout is slow", severity="SEV-2")
    walk(client, clock, ref, severity="SEV-2")
    client.headers["Authorization"] = f"Bearer {tokens['viewer']}"
    assert client.get(base(ref)).status_code == 200
    assert client.put(base(ref), json={"five_whys": WHYS}).status_code == 403
    assert client.post(base(ref) + "/export").status_code == 403
    del client.headers["Authorization"]
    assert client.get(base(ref)).status_code == 401


def test_fishbone_svg_parses_and_escapes(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(api, "Checkout <b>slow</b> & failing", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    attack = "<script>alert('x')</script>"
    body = {**FULL, "fishbone": {"People": [attack], "Other & <odd>": ["a \x01 b"]}}
    ok(api.put(base(ref), json=body))
    response = api.get(base(ref) + "/fishbone.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in response.text and "&lt;script&gt;" in response.text
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{SVG}svg"
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    for name in ["People", "Process", "Technology", "Environment", "Tools", "Other & <odd>"]:
        assert any(name in text for text in texts), name
    assert any(attack in text for text in texts)
    assert any("Checkout <b>slow</b> &" in text for text in texts)


def test_export_writes_markdown_html_and_svg(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2", visibility="restricted")
    walk(api, clock, ref, severity="SEV-2")
    ok(api.put(base(ref), json={**FULL, "summary": "<img src=x onerror=alert(1)>"}))
    answer = ok(api.post(base(ref) + "/export"))
    archive = runtime.runbooks.archive
    names = sorted(p.rsplit("/", 1)[1] for p in answer["paths"])
    assert names == [
        "INC-1-checkout-is-slow.fishbone.svg",
        "INC-1-checkout-is-slow.postmortem.html",
        "INC-1-checkout-is-slow.postmortem.md",
        "INC-1-checkout-is-slow.timeline.svg",
    ]
    assert (archive / "INC-1-checkout-is-slow.md").exists()  # beside the archived runbook
    markdown = (archive / names[2]).read_text()
    html = (archive / names[1]).read_text()
    # START is 09:00; the walk acknowledges at +4, triages at +15, mitigates +45, resolves +90.
    for text in (markdown, html):
        for when in (
            "2026-03-02 09:00",
            "2026-03-02 09:15",
            "2026-03-02 09:45",
            "2026-03-02 10:30",
        ):
            assert when in text
        assert "Because 5." in text and "Raise" not in text
    assert "| Triage → mitigation | 30m |" in markdown
    assert "![Fishbone diagram](INC-1-checkout-is-slow.fishbone.svg)" in markdown
    assert "![Timeline](INC-1-checkout-is-slow.timeline.svg)" in markdown
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert html.count("<svg") == 2 and "<?xml" not in html  # fishbone and timeline inlined
    ElementTree.fromstring((archive / names[0]).read_bytes())
    timeline = ElementTree.fromstring((archive / names[3]).read_bytes())
    milestones = {
        g.get("data-milestone")
        for g in timeline.iter("{http://www.w3.org/2000/svg}g")
        if g.get("class") == "milestone"
    }
    assert {"detected", "acknowledged", "triaged", "mitigated", "resolved"} <= milestones
    assert ((archive / names[1]).stat().st_mode & 0o777) == 0o600
    assert not list(archive.glob(".*.tmp"))


def test_timeline_svg_route(api: TestClient, clock: FrozenClock) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    assert api.get(base(ref) + "/timeline.svg").status_code == 409  # still open
    walk(api, clock, ref, severity="SEV-2")
    answer = api.get(base(ref) + "/timeline.svg")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    root = ElementTree.fromstring(answer.content)
    phases = [
        g.find("{http://www.w3.org/2000/svg}title").text  # type: ignore[union-attr]
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if g.get("class") == "phase"
    ]
    # The walk triages at +15, mitigates at +45 and resolves at +90 minutes.
    assert phases == ["Triage: 15m", "Mitigation: 30m", "Verification: 45m"]
    assert api.get(base("INC-99") + "/timeline.svg").status_code == 404


def test_a_first_draft_needs_no_whys_yet(api: TestClient, clock: FrozenClock) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    draft = ok(api.put(base(ref), json={"summary": "Checkout was slow."}))
    assert (draft["status"], draft["five_whys"], draft["summary"]) == (
        "draft",
        [],
        "Checkout was slow.",
    )
    round_trip = {k: draft[k] for k in ("summary", "impact", "root_cause", "five_whys", "status")}
    assert ok(api.put(base(ref), json=round_trip))["summary"] == "Checkout was slow."
    done = api.put(base(ref), json={**round_trip, "root_cause": "No canary.", "status": "done"})
    assert done.status_code == 422
    assert done.json()["error"]["message"].startswith("five_whys needs at least one why")


def test_done_needs_summary_and_root_cause(api: TestClient, clock: FrozenClock) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    ok(api.put(base(ref), json={**FULL, "status": "in_review"}))
    before = ok(api.get(base(ref)))
    answer = api.put(base(ref), json={**FULL, "summary": " ", "root_cause": "", "status": "done"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["message"].startswith(
        "a postmortem is done only with its summary and root_cause written"
    )
    assert error["details"]["missing"] == ["summary", "root_cause"]
    assert ok(api.get(base(ref))) == before  # nothing written
    assert api.post(f"/api/v1/incidents/{ref}/close").status_code == 409


def test_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get", "put"} <= set(paths["/api/v1/incidents/{ref}/postmortem"])
    assert "patch" in paths["/api/v1/postmortems/action-items/{item_id}"]


def test_reopened_incident_hides_its_postmortem_until_resolved_again(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-1")
    walk(api, clock, ref, severity="SEV-1")
    ok(api.put(base(ref), json=FULL))
    ok(api.post(f"/api/v1/incidents/{ref}/reopen", json={}))
    assert api.get(base(ref)).status_code == 409
    assert api.put(base(ref), json=FULL).status_code == 409
    # Verification starts over after a reopen: the resolve waits for it again.
    assert api.post(f"/api/v1/incidents/{ref}/resolve", json={}).status_code == 409
    assert verify(api, ref) == 2
    ok(api.post(f"/api/v1/incidents/{ref}/resolve", json={}))
    pm = ok(api.get(base(ref)))  # the same document, kept while it was open
    assert (pm["root_cause"], pm["status"]) == (FULL["root_cause"], "in_review")
    ok(api.put(base(ref), json={**FULL, "status": "done"}))  # a SEV-1 closes once it is done
    ok(api.post(f"/api/v1/incidents/{ref}/close", json={}))
    assert ok(api.get(base(ref)))["status"] == "done" and counts(runtime)[0] == 1


def test_html_export_keeps_paragraphs_and_line_breaks(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    walk(api, clock, ref, severity="SEV-2")
    summary = "Checkout slowed down.\nPayments timed out.\n\nThen it <recovered>."
    ok(api.put(base(ref), json={**FULL, "summary": summary}))
    answer = ok(api.post(base(ref) + "/export"))
    html_path = next(p for p in answer["paths"] if p.endswith(".html"))
    html = Path(html_path).read_text(encoding="utf-8")
    assert (
        "<h2>Summary</h2><p>Checkout slowed down.<br>Payments timed out.</p>"
        "<p>Then it &lt;recovered&gt;.</p>"
    ) in html


def test_get_before_the_postmortem_exists_writes_nothing(
    runtime: Runtime, api: TestClient, clock: FrozenClock
) -> None:
    clock.set(datetime(2026, 3, 5, 10, 0, tzinfo=UTC))  # a Thursday
    ref = declare(api, "Checkout is slow", severity="SEV-2")
    verify(api, ref)
    ok(api.post(f"/api/v1/incidents/{ref}/resolve", json={}))
    with runtime.db.transaction() as session:  # as if the resolve's listener had failed
        found = service.find(session, get(session, ref))
        assert found is not None
        session.delete(found)
    assert counts(runtime) == (0, 0, 0)
    clock.advance(timedelta(seconds=60))
    pm = ok(api.get(base(ref)))
    assert (pm["status"], pm["required"]) == ("draft", True)
    assert pm["due_at"].startswith("2026-03-12T10:00")  # counted from the resolve
    assert list(pm["fishbone"]) == ["People", "Process", "Technology", "Environment", "Tools"]
    assert (pm["summary"], pm["five_whys"], pm["action_items"]) == ("", [], [])
    assert api.get(base(ref) + "/fishbone.svg").status_code == 200
    assert counts(runtime) == (0, 0, 0)  # reading made no row
    ok(api.put(base(ref), json={"summary": "Slow queries"}))
    assert counts(runtime) == (1, 0, 0)  # the first write creates it
