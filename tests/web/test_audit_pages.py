"""The audit log page: admins read and filter it and check the chain; nobody else sees it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.audit.conftest import logged
from tests.audit.test_chain import _tamper, _write
from tests.web.test_pages import add_user, sign_in
from warroom.runtime import Runtime


def test_an_admin_reads_filters_and_verifies(client: TestClient, runtime: Runtime) -> None:
    add_user(runtime, "ada", "admin")
    csrf = sign_in(client, "ada")
    _write(runtime, 3, actor="carol")
    page = client.get("/audit")
    assert page.status_code == 200
    assert '<a href="/audit" aria-current="page">Audit</a>' in page.text
    assert "<code>incident.read</code>" in page.text and "from 127.0.0.1" in page.text
    # The sign-in itself is on it, with the client TestClient connects from.
    assert "<code>signin</code>" in page.text and "from testclient" in page.text
    filtered = client.get("/audit", params={"actor": "carol", "target": "INC-2"})
    rows = re.findall(r'<td data-label="#">(\d+)</td>', filtered.text)
    assert len(rows) == 1
    bad = client.get("/audit", params={"since": "last tuesday"})
    assert bad.status_code == 422 and "neither a duration" in bad.text
    checked = client.post("/audit/verify", data={"csrf_token": csrf})
    assert checked.status_code == 200 and "✓ Intact" in checked.text
    _tamper(runtime.db, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    broken = client.post("/audit/verify", data={"csrf_token": csrf})
    assert "✗ Broken at entry 2" in broken.text and "mallory" in broken.text
    assert len(logged(runtime, "audit.read")) == 5  # every showing of the page


def test_anyone_else_is_refused_and_the_refusal_logged(
    client: TestClient, runtime: Runtime
) -> None:
    add_user(runtime, "rita", "responder")
    sign_in(client, "rita")
    page = client.get("/audit")
    assert page.status_code == 403
    assert 'href="/audit"' not in client.get("/").text  # no link for those it would refuse
    (denied,) = logged(runtime, "access.denied")
    assert (denied["actor"], denied["details"]["request"]) == ("rita", "GET /audit")
    # An admin sees the refusal marked with a sign Debian's Chromium fonts have (⛔ was a box).
    add_user(runtime, "ada", "admin")
    sign_in(client, "ada")
    shown = client.get("/audit", params={"actor": "rita"}).text
    assert "<strong>✗ denied</strong>" in shown and "⛔" not in shown


def test_details_read_as_words() -> None:
    from warroom.web.audit_pages import shown

    assert [shown(v) for v in (None, True, False, ["a", None], {"k": 1}, [], 3)] == [
        "—",
        "yes",
        "no",
        "a, —",
        "k=1",
        "—",
        "3",
    ]
