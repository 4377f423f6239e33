"""The room's evidence by form: upload with the CSRF token, download, refusals keep nothing."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from tests.web.test_pages import declare, people, sign_in  # noqa: F401  (people: a fixture)
from warroom.evidence.models import EvidenceItem
from warroom.runtime import Runtime


def stored(runtime: Runtime) -> int:
    root = runtime.evidence.store.root
    return len([p for p in root.rglob("*") if p.is_file()]) if root.exists() else 0


@pytest.mark.usefixtures("people")
def test_a_responder_adds_evidence_by_form_and_a_viewer_downloads_it(
    client: TestClient, runtime: Runtime
) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Phishing mail reached finance")
    data = b"Received: from mx.evil.example\r\nSubject: <b>invoice</b>\r\n"
    answer = client.post(
        f"{room}/evidence",
        data={"csrf_token": csrf, "note": "headers <of> the mail"},
        files={"file": ("mail <1>.eml", data, "message/rfc822")},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{room}#evidence"
    page = client.get(room).text
    digest = hashlib.sha256(data).hexdigest()
    assert "mail &lt;1&gt;.eml" in page and "mail <1>" not in page
    assert f'title="{digest}"' in page and "headers &lt;of&gt; the mail" in page
    assert 'enctype="multipart/form-data"' in page

    item = runtime.evidence.items("INC-1")[0]
    sign_in(client, "vic")
    viewer_page = client.get(room).text
    assert "Add evidence</summary>" not in viewer_page  # a viewer gets no form
    got = client.get(f"{room}/evidence/{item.id}")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"].startswith("attachment")
    assert [c.action for c in runtime.evidence.get("INC-1", item.id).custody] == [
        "collected",
        "viewed",
    ]


@pytest.mark.usefixtures("people")
def test_refused_uploads_show_why_and_keep_nothing(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, "rita")
    room = declare(client, csrf, "Disk full")
    files = {"file": ("big.log", b"x" * 2000, "text/plain")}
    no_csrf = client.post(f"{room}/evidence", files=files, follow_redirects=False)
    assert no_csrf.status_code == 403
    runtime.config().server.max_evidence_bytes = 1000
    too_big = client.post(f"{room}/evidence", data={"csrf_token": csrf}, files=files)
    assert too_big.status_code == 413
    assert "over the evidence limit of 1000 bytes" in too_big.text
    no_file = client.post(f"{room}/evidence", data={"csrf_token": csrf})
    assert no_file.status_code == 422 and "no file" in no_file.text
    with runtime.db.session() as session:
        assert session.query(EvidenceItem).count() == 0
    assert stored(runtime) == 0
