"""The postmortem editor over HTTP, as a browser without JavaScript uses it: plain forms.

The conflicting save: two people load the editor, both save; the second is refused with 409,
sees the first one's text beside their own, keeps their own in the form, and nothing is lost.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_token
from tests.web.test_pages import add_user, sign_in
from warroom.app import create_app
from warroom.incidents.actor import Actor
from warroom.runtime import Runtime

SKIP = "not what this test is about"


@pytest.fixture
def resolved(runtime: Runtime) -> str:
    """Users rita and sam (responders) and vic (viewer); a resolved SEV-2 incident."""
    add_user(runtime, "rita", "responder")
    add_user(runtime, "sam", "responder")
    add_user(runtime, "vic", "viewer")
    ada = Actor(name="ada", source="api", role="admin")
    detail = runtime.flows.declare(actor=ada, title="Checkout is slow", severity="SEV-2")
    runtime.flows.transition(detail.ref, "resolve", actor=ada, skip_verification=SKIP)
    return detail.ref


def form_of(page: str) -> dict[str, object]:
    """Return the editor form's fields as a browser would post them (lists kept)."""
    form = page.split('id="postmortem-form"', 1)[1].split("</form>", 1)[0]
    fields: dict[str, list[str]] = {}
    for tag in re.findall(r"<(input|textarea)([^>]*)>(?:([^<]*)</textarea>)?", form):
        kind, attrs, text = tag
        name = re.search(r'name="([^"]+)"', attrs)
        if name is None:
            continue
        if kind == "input" and 'type="radio"' in attrs and "checked" not in attrs:
            continue
        value = re.search(r'value="([^"]*)"', attrs)
        raw = text if kind == "textarea" else (value.group(1) if value else "")
        fields.setdefault(name.group(1), []).append(
            raw.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
        )
    return {
        k: v if len(v) > 1 or k in ("why_question", "why_answer") else v[0]
        for k, v in fields.items()
    }


def test_the_editor_saves_whys_fishbone_and_status(
    client: TestClient, resolved: str, runtime: Runtime
) -> None:
    sign_in(client, "rita")
    page = client.get(f"/incidents/{resolved}/postmortem")
    assert page.status_code == 200
    assert page.text.count('name="why_question"') == 5  # no whys yet: five empty rows
    form = form_of(page.text)
    assert form["version"] == "0"
    form["summary"] = "A bad deploy slowed checkout."
    form["root_cause"] = "No canary stage."
    form["why_question"] = ["Why was checkout slow?", ""]
    form["why_answer"] = ["A bad deploy.", ""]
    names = form["bone_name"]
    assert isinstance(names, list) and names[0] == "People"
    causes = [""] * len(names)
    causes[names.index("Process")] = "No canary\nNo rollback drill"
    names[-1], causes[-1] = "Vendors", "CDN cache purge"
    form["bone_name"], form["bone_causes"] = names, causes
    form["status"] = "in_review"
    saved = client.post(f"/incidents/{resolved}/postmortem", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    pm = runtime.postmortems.get(resolved)
    assert (pm.version, pm.status, pm.updated_by) == (1, "in_review", "rita")
    assert [w.question for w in pm.five_whys] == ["Why was checkout slow?"]
    assert pm.fishbone["Process"] == ["No canary", "No rollback drill"]
    assert pm.fishbone["Vendors"] == ["CDN cache purge"]
    again = client.get(saved.headers["location"]).text
    assert "Saved: version 1" in again
    assert again.count('name="why_question"') == 5  # the one saved and four empty
    assert "CDN cache purge" in again  # in the diagram's text equivalent too
    assert 'alt="Fishbone diagram of' in again


def test_a_refused_save_keeps_the_text(client: TestClient, resolved: str, runtime: Runtime) -> None:
    sign_in(client, "rita")
    form = form_of(client.get(f"/incidents/{resolved}/postmortem").text)
    form["summary"] = "Kept after the refusal"
    form["status"] = "done"  # without a root cause or a why
    answer = client.post(f"/incidents/{resolved}/postmortem", data=form)
    assert answer.status_code == 422
    assert "Kept after the refusal" in answer.text and "five_whys" in answer.text
    assert runtime.postmortems.get(resolved).version == 0


def test_a_conflicting_save_shows_the_other_change_and_loses_nothing(
    runtime: Runtime, resolved: str
) -> None:
    app = create_app(runtime)
    with TestClient(app) as first, TestClient(app) as second:
        sign_in(first, "rita")
        sign_in(second, "sam")
        url = f"/incidents/{resolved}/postmortem"
        rita = form_of(first.get(url).text)
        sam = form_of(second.get(url).text)
        assert rita["version"] == sam["version"] == "0"
        rita["summary"] = "Rita: the deploy at 09:00 broke checkout."
        sam["summary"] = "Sam: checkout timed out for EU shoppers."
        sam["impact"] = "Sam: 12% of orders failed."
        assert first.post(url, data=rita, follow_redirects=False).status_code == 303
        clash = second.post(url, data=sam)
        assert clash.status_code == 409
        text = clash.text
        assert "Someone saved while you were editing" in text
        # Theirs beside mine, mine still in the form, the form now at their version.
        assert "Rita: the deploy at 09:00 broke checkout." in text
        kept = form_of(text)
        assert kept["summary"] == "Sam: checkout timed out for EU shoppers."
        assert kept["impact"] == "Sam: 12% of orders failed."
        assert kept["version"] == "1"
        saved = runtime.postmortems.get(resolved)
        assert (saved.summary, saved.version, saved.updated_by) == (rita["summary"], 1, "rita")
        # Sam merges and saves again: accepted now, as version 2.
        kept["summary"] = f"{rita['summary']} {kept['summary']}"
        assert second.post(url, data=kept, follow_redirects=False).status_code == 303
        merged = runtime.postmortems.get(resolved)
        assert merged.version == 2 and merged.summary.startswith("Rita:")
        assert "Sam: checkout" in merged.summary and merged.impact == "Sam: 12% of orders failed."


def test_the_api_put_honours_if_match_and_version(
    client: TestClient, resolved: str, runtime: Runtime
) -> None:
    headers = {"Authorization": f"Bearer {make_token(runtime, 'robot', 'responder')}"}
    url = f"/api/v1/incidents/{resolved}/postmortem"
    got = client.get(url, headers=headers)
    assert got.json()["version"] == 0 and got.headers["etag"] == '"0"'
    first = client.put(url, json={"summary": "one"}, headers={**headers, "If-Match": '"0"'})
    assert first.status_code == 200 and first.headers["etag"] == '"1"'
    stale = client.put(url, json={"summary": "two"}, headers={**headers, "If-Match": '"0"'})
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 1
    body_stale = client.put(url, json={"summary": "two", "version": 0}, headers=headers)
    assert body_stale.status_code == 409
    assert runtime.postmortems.get(resolved).summary == "one"
    fresh = client.put(url, json={"summary": "two", "version": 1}, headers=headers)
    assert fresh.status_code == 200 and fresh.json()["version"] == 2
    clash = client.put(url, json={"version": 1}, headers={**headers, "If-Match": '"2"'})
    assert clash.status_code == 422
    blind = client.put(url, json={"summary": "three"}, headers=headers)  # as before: no check
    assert blind.status_code == 200 and blind.json()["version"] == 3


def test_action_items_are_added_and_changed(
    client: TestClient, resolved: str, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    base = f"/incidents/{resolved}/postmortem/action-items"
    added = client.post(
        base,
        data={"csrf_token": csrf, "kind": "short_term", "title": "Add a canary",
              "owner": "rita", "due_date": "2026-03-20", "jira_key": "ops-12"},
        follow_redirects=False,
    )  # fmt: skip
    assert added.status_code == 303, added.text
    (item,) = runtime.postmortems.get(resolved).action_items
    assert (item.owner, item.jira_key, str(item.due_date)) == ("rita", "OPS-12", "2026-03-20")
    changed = client.post(
        f"{base}/{item.id}",
        data={"csrf_token": csrf, "kind": "long_term", "title": "Add a canary stage",
              "owner": "sam", "due_date": "", "jira_key": "", "status": "done"},
        follow_redirects=False,
    )  # fmt: skip
    assert changed.status_code == 303, changed.text
    (item,) = runtime.postmortems.get(resolved).action_items
    assert (item.kind, item.owner, item.due_date, item.status) == ("long_term", "sam", None, "done")
    bad = client.post(base, data={"csrf_token": csrf, "kind": "short_term", "title": ""})
    assert bad.status_code == 422
    assert client.post(f"{base}/999", data={"csrf_token": csrf}).status_code == 404


def test_the_svgs_need_only_the_session(client: TestClient, resolved: str) -> None:
    sign_in(client, "vic")
    for name in ("fishbone", "timeline"):
        answer = client.get(f"/incidents/{resolved}/postmortem/{name}.svg")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert "<svg" in answer.text
    page = client.get(f"/incidents/{resolved}/postmortem").text
    assert "Save the postmortem" not in page and "disabled" in page  # a viewer reads


def test_the_room_links_to_the_postmortem(client: TestClient, resolved: str) -> None:
    sign_in(client, "vic")
    assert f'href="/incidents/{resolved}/postmortem"' in client.get(f"/incidents/{resolved}").text


def test_an_open_incident_has_no_postmortem_yet(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "rita", "responder")
    ada = Actor(name="ada", source="api", role="admin")
    ref = runtime.flows.declare(actor=ada, title="Still burning").ref
    sign_in(client, "rita")
    answer = client.get(f"/incidents/{ref}/postmortem")
    assert answer.status_code == 409 and "starts when it is resolved" in answer.text
