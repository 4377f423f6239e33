"""Search: the index is written with its rows, ranked, filtered, paged and quoted safely."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.models import Incident
from warroom.runtime import Runtime
from warroom.search.models import SearchDocument

INCIDENTS = "/api/v1/incidents"
SEARCH = "/api/v1/search"
AM_TOKEN = "am-search-token"


@pytest.fixture
def config() -> WarroomConfig:
    """Two services, a restricted type and an Alertmanager integration."""
    return WarroomConfig.model_validate(
        {
            "people": [{"id": "rita", "name": "Rita"}],
            "services": [{"id": "checkout"}, {"id": "search"}],
            "incident_types": [
                {"id": "default", "name": "Default"},
                {"id": "security", "name": "Security", "restricted": True},
            ],
            "routes": [{"match": ['service=~".+"'], "severity": "SEV-2"}],
            "integrations": {"alertmanager": [{"name": "prod", "token": AM_TOKEN}]},
        }
    )


def declare(api: TestClient, title: str, **fields: Any) -> str:
    """Declare an incident; return its ref."""
    answer = api.post(INCIDENTS, json={"title": title, **fields})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["ref"])


def note(api: TestClient, ref: str, words: str) -> None:
    """Write a timeline note."""
    answer = api.post(f"{INCIDENTS}/{ref}/timeline", json={"text": words})
    assert answer.status_code == 201, answer.text


def found(api: TestClient, q: str, **params: Any) -> dict[str, Any]:
    """Search; return the answer's body (asserting a 200)."""
    answer = api.get(SEARCH, params={"q": q, **params})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def refs(api: TestClient, q: str, **params: Any) -> list[str]:
    """Return the refs a search finds, in order."""
    return [item["ref"] for item in found(api, q, **params)["items"]]


def count_documents(runtime: Runtime) -> int:
    """Return how many documents the index holds."""
    with runtime.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(SearchDocument)) or 0)


def test_title_summary_and_note_are_found(api: TestClient) -> None:
    ref = declare(api, "Checkout latency above 2s", summary="Payments gateway times out")
    declare(api, "Disk full on the log host")
    note(api, ref, "Rolled back the flux capacitor")
    assert refs(api, "latency") == [ref]
    assert refs(api, "GATEWAY") == [ref]
    assert refs(api, "timed out") == [ref]  # stemmed: "times" and "timed"
    hit = found(api, "capacitor")["items"][0]
    assert (hit["ref"], hit["matched"], hit["matched_label"]) == (ref, "note", "timeline note")
    assert hit["highlights"] == [
        {"text": "Rolled back the flux ", "match": False},
        {"text": "capacitor", "match": True},
    ]
    assert hit["snippet"] == "Rolled back the flux capacitor"
    assert refs(api, "nothing-like-this") == []
    note(api, ref, "Customer ticket SUP-48213 confirms it")
    assert refs(api, "SUP-48213") == refs(api, "sup 48213") == [ref]


def test_every_kind_of_text_is_indexed(
    api: TestClient, client: TestClient, clock: FrozenClock
) -> None:
    ref = declare(api, "Orders vanish", service="checkout")
    update = {"status": "identified", "body": "A zeppelin-sized queue backlog", "public": False}
    assert api.post(f"{INCIDENTS}/{ref}/status-updates", json=update).status_code == 201
    clock.advance(timedelta(minutes=5))
    resolved = api.post(f"{INCIDENTS}/{ref}/resolve", json={"skip_verification": "by hand"})
    assert resolved.status_code == 200, resolved.text
    postmortem = {
        "root_cause": "A stale lockfile",
        "five_whys": [{"question": "Why did orders vanish?", "answer": "The walrus consumer died"}],
        "fishbone": {"Technology": ["Unbounded retries in the marmalade client"]},
    }
    saved = api.put(f"{INCIDENTS}/{ref}/postmortem", json=postmortem)
    assert saved.status_code == 200, saved.text
    item = {"kind": "long_term", "title": "Alert on narwhal lag"}
    added = api.post(f"{INCIDENTS}/{ref}/postmortem/action-items", json=item)
    assert added.status_code in (200, 201), added.text
    alert = {
        "status": "firing",
        "labels": {
            "alertname": "QuokkaDown",
            "service": "search",
            "pod": "quokka-7",
            "instance": "db01.prod:9100",
        },
        "annotations": {"summary": "down"},
        "startsAt": "2026-03-02T08:00:00Z",
        "fingerprint": "fp-quokka",
    }
    body = {"version": "4", "status": "firing", "groupKey": "{}:{}", "alerts": [alert]}
    intake = client.post(
        "/api/v1/intake/alertmanager",
        json=body,
        headers={"Authorization": f"Bearer {AM_TOKEN}"},
    )
    assert intake.status_code == 200, intake.text
    alerted = found(api, "quokkadown")["items"]
    assert [hit["matched"] for hit in alerted] == ["alert"]
    assert "instance=db01.prod" in alerted[0]["snippet"]  # quoted as written
    # A host in a label is found by its parts, on both backends.
    assert refs(api, "db01") == refs(api, "prod") == [alerted[0]["ref"]]
    expected = {
        "zeppelin": "status_update",
        "walrus": "postmortem",  # an answer of the 5 Whys
        "marmalade": "postmortem",  # a cause on the fishbone
        "lockfile": "postmortem",
        "narwhal": "action_item",
    }
    for word, kind in expected.items():
        hits = found(api, word)["items"]
        assert [(hit["ref"], hit["matched"]) for hit in hits] == [(ref, kind)], word


def test_a_rolled_back_change_leaves_no_document(
    api: TestClient, runtime: Runtime, clock: FrozenClock
) -> None:
    declare(api, "Something else")
    before = count_documents(runtime)
    with pytest.raises(RuntimeError, match="roll back"):
        _write_then_fail(runtime, clock, before)
    assert count_documents(runtime) == before
    assert refs(api, "phantom") == []


def test_a_new_title_is_found_and_the_old_one_no_longer(api: TestClient) -> None:
    ref = declare(api, "Mysterious hiccup", summary="first words")
    changed = api.patch(f"{INCIDENTS}/{ref}", json={"title": "Certificate expired"})
    assert changed.status_code == 200, changed.text
    assert refs(api, "hiccup") == []
    assert refs(api, "certificate") == [ref]
    assert refs(api, "first words") == [ref]  # the summary stayed


def test_a_title_match_ranks_above_a_note(api: TestClient) -> None:
    same = [declare(api, "Printer on fire") for _ in range(2)]
    # Equal matches: the newer incident first.
    assert refs(api, "printer") == same[::-1]
    in_note = declare(api, "Queue stalls")
    note(api, in_note, "the gremlin again, maybe")
    titles = {declare(api, "Gremlin in the load balancer"), declare(api, "Gremlin eats packets")}
    # Both titles rank above the note (a word in a title weighs more).
    ranked = refs(api, "gremlin")
    assert set(ranked[:2]) == titles and ranked[2] == in_note
    scores = [hit["score"] for hit in found(api, "gremlin")["items"]]
    assert scores == sorted(scores, reverse=True)


def test_filters(api: TestClient, clock: FrozenClock) -> None:
    a = declare(api, "Timeout one", service="checkout", severity="SEV-1")
    clock.advance(timedelta(days=2))
    b = declare(api, "Timeout two", service="search", severity="SEV-4")
    c = declare(api, "Timeout three", incident_type="security")
    assert api.post(f"{INCIDENTS}/{b}/resolve", json={"false_alarm": "noise"}).status_code == 200
    assert set(refs(api, "timeout")) == {a, b, c}  # rita declared c: a participant
    assert refs(api, "timeout", service="checkout") == [a]
    assert refs(api, "timeout", severity="sev1") == [a]
    assert set(refs(api, "timeout", severity="SEV-1,SEV-4")) == {a, b}
    assert refs(api, "timeout", status="resolved") == [b]
    assert set(refs(api, "timeout", status="open")) == {a, c}
    assert refs(api, "timeout", type="security") == [c]
    assert set(refs(api, "timeout", since="1d")) == {b, c}
    assert refs(api, "timeout", until="1d") == [a]
    assert refs(api, "timeout", since="2026-03-01T00:00:00Z", until="2026-03-03") == [a]


def test_since_still_finds_every_incident_after_an_edit(
    api: TestClient, clock: FrozenClock, runtime: Runtime
) -> None:
    older = declare(api, "Timeout one")
    clock.advance(timedelta(days=2))
    first, later = declare(api, "Timeout two"), declare(api, "Timeout three")
    note(api, later, "timeout again")
    assert set(refs(api, "timeout", since="1d")) == {first, later}
    # Renaming the first incident since then rewrites its document (SQLite bounds `since`
    # by that document's id: it must keep its place).
    renamed = api.patch(f"{INCIDENTS}/{first}", json={"title": "Timeout two, renamed"})
    assert renamed.status_code == 200, renamed.text
    assert set(refs(api, "timeout", since="1d")) == {first, later}
    assert refs(api, "renamed", since="1d") == [first]
    assert older not in refs(api, "timeout", since="1d")
    with runtime.db.session() as session:
        ids = session.execute(
            select(SearchDocument.id, SearchDocument.heading)
            .where(SearchDocument.kind == "incident")
            .order_by(SearchDocument.id)
        ).all()
    assert [heading for _, heading in ids] == [
        "Timeout one",
        "Timeout two, renamed",
        "Timeout three",
    ]


def test_pages_cover_every_hit_once(api: TestClient) -> None:
    made = {declare(api, f"Flaky test number {n}") for n in range(5)}
    first = found(api, "flaky", per_page=2)
    second = found(api, "flaky", per_page=2, page=2)
    third = found(api, "flaky", per_page=2, page=3)
    assert (first["total"], second["total"], third["total"]) == (5, 5, 5)
    assert (first["next_page"], second["next_page"], third["next_page"]) == (2, 3, None)
    seen = [item["ref"] for page in (first, second, third) for item in page["items"]]
    assert sorted(seen) == sorted(made)
    beyond = found(api, "flaky", per_page=2, page=9)
    assert (beyond["items"], beyond["total"], beyond["next_page"]) == ([], 5, None)


def test_hostile_text_is_quoted_as_text(api: TestClient) -> None:
    ref = declare(api, "Odd input")
    note(api, ref, '<script>alert(1)</script> [red]rich[/red] **bold** "kangaroo" \ue000x\ue001')
    hit = found(api, "kangaroo")["items"][0]
    assert hit["ref"] == ref
    marked = [part["text"] for part in hit["highlights"] if part["match"]]
    assert marked == ["kangaroo"]
    assert "kangaroo" in hit["snippet"] and "\ue000" not in hit["snippet"]
    # FTS5's syntax typed into the box is searched for as words, never run.
    for q in ("kangaroo OR odd", "kangaroo AND NOT x", "body:kangaroo", 'kangaroo"', "NEAR(a b)"):
        assert api.get(SEARCH, params={"q": q}).status_code == 200, q


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({}, "q", "is required"),
        ({"q": "   "}, "q", "no words"),
        ({"q": "!!! ..."}, "q", "no words"),
        ({"q": " ".join(f"w{n}" for n in range(17))}, "q", "at most 16"),
        ({"q": "x", "severity": "SEV-9"}, "severity", "unknown severity"),
        ({"q": "x", "status": "sleeping"}, "status", "unknown status"),
        ({"q": "x", "since": "last tuesday"}, "since", "neither a duration"),
        ({"q": "x", "since": "1d", "until": "2d"}, "until", "after since"),
        ({"q": "x", "page": 0}, "page", ""),
        ({"q": "x", "per_page": 1000}, "per_page", ""),
    ],
)
def test_bad_input_is_a_clear_422(
    api: TestClient, params: dict[str, Any], field: str, words: str
) -> None:
    answer = api.get(SEARCH, params=params)
    assert answer.status_code == 422, answer.text
    assert field in answer.text
    assert words.lower() in answer.text.lower()


def test_every_indexed_table_has_its_triggers(runtime: Runtime) -> None:
    # A migration that rebuilds a table (SQLite's batch mode) drops its triggers: this says so.
    with runtime.db.session() as session:
        if runtime.db.is_sqlite:
            rows = session.execute(
                text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            )
        else:
            rows = session.execute(
                text(
                    "SELECT c.relname, t.tgname FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal"
                )
            )
        triggers = {(table, name) for table, name in rows if name.startswith("search_")}
    expected = {("incidents", "search_incident_insert"), ("incidents", "search_incident_update")}
    for table, kind in [
        ("timeline_events", "note"),
        ("status_updates", "status_update"),
        ("postmortems", "postmortem"),
        ("postmortem_action_items", "action_item"),
        ("alerts", "alert"),
    ]:
        expected |= {(table, f"search_{kind}_{event}") for event in ("insert", "update", "delete")}
    assert expected <= triggers


def _write_then_fail(runtime: Runtime, clock: FrozenClock, before: int) -> None:
    """Add an incident, see its document inside the transaction, then fail it."""
    with runtime.db.transaction() as session:
        session.add(_incident(number=99, title="Phantom outage", clock=clock))
        session.flush()
        # Inside the transaction the document is there: written with its row.
        assert session.scalar(select(func.count()).select_from(SearchDocument)) == before + 1
        raise RuntimeError("roll back")


def _incident(*, number: int, title: str, clock: FrozenClock) -> Incident:
    now = clock.now()
    return Incident(
        number=number,
        slug=f"inc-{number}",
        title=title,
        summary="",
        status="detected",
        severity="SEV-3",
        peak_severity="SEV-3",
        incident_type="default",
        source="test",
        visibility="public",
        links={},
        detected_at=now,
        updated_at=now,
    )


def test_a_postgresql_quote_gets_its_punctuation_back() -> None:
    from warroom.search.quotes import BETWEEN, MARK, UNMARK, restore

    original = "Rolled back to v1.2.3 on db01.prod:9100 <b>now</b>; later mail ops@example.com"
    quote = f"back to v1 2 3 on {MARK}db01{UNMARK} prod 9100  b now  b {BETWEEN}ops example com"
    restored = f"back to v1.2.3 on {MARK}db01{UNMARK}.prod:9100 <b>now</b> … ops@example.com"
    assert restore(original, quote) == restored
    assert restore("abc", "zzz") == "zzz"  # not found: kept as given


def test_a_common_word_scores_the_newest_places_and_filters_come_first(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warroom.search import service

    old = declare(api, "Outage in the old datacenter", service="checkout")
    newer = [declare(api, f"Outage number {n}") for n in range(4)]
    monkeypatch.setattr(service, "CANDIDATES", 3)
    body = found(api, "outage")
    assert body["capped"] is True and body["total"] == 3
    assert {item["ref"] for item in body["items"]} == set(newer[1:])
    # A filter narrows before the newest are taken: the old incident is still found.
    filtered = found(api, "outage", service="checkout")
    assert ([i["ref"] for i in filtered["items"]], filtered["capped"]) == ([old], False)
    beyond = found(api, "outage", page=5)
    assert (beyond["items"], beyond["total"], beyond["capped"]) == ([], 3, True)
