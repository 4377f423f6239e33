"""Hostile text is stored as given and escaped in every output (issue 15, item 5).

One incident carries the payloads in its title, summary, a note, checklist notes, status
updates, its postmortem and action items; a person's configured name carries them too (the
calendar shows it). The API gives every text back exactly; each output a person reads
escapes it for its format: the pages (HTML), the runbook file and the postmortem export
(markdown, HTML), the SVG pictures, Slack, e-mail, CSV and iCal. Bidi controls are shown as
`{U+202E}` in all of them (docs/security.md, "Hostile text").
"""

from __future__ import annotations

import csv
import email
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.conftest import need
from tests.helpers import verify
from tests.notify.slack_server import SlackServer
from tests.web.test_pages import add_user, sign_in
from warroom.config import WarroomConfig
from warroom.core.clock import FrozenClock
from warroom.incidents.service import get
from warroom.notify import email_text
from warroom.notify.cards import card_of
from warroom.notify.slack import SlackChat
from warroom.notify.slack_config import SlackConfig
from warroom.notify.smtp import SmtpMailer
from warroom.notify.smtp_config import SmtpConfig
from warroom.runtime import Runtime

try:
    from aiosmtpd.controller import Controller
except ImportError:  # pragma: no cover - the dev extra installs it
    Controller = None

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE incidents; --",
    "Robert'); DELETE FROM users;--",
    "line1\r\nBcc: evil@example.com",
    "\u202egnp.exe",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "## Checklist (11/11)",
    "<!channel>",
]
TEXT = "\n".join(PAYLOADS)
# A title is one line (whitespace runs, CR LF among them, become one space: the documented
# title rule); it starts with a formula so the CSV cell has something to neutralise.
TITLE = " ".join(PAYLOADS[i] for i in (6, 0, 1, 5, 11, 4))  # 200 characters at most
STORED_TITLE = " ".join(TITLE.split())
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SHOWN = "{U+202E}gnp.exe"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def config() -> WarroomConfig:
    """A service behind a public component, and a person whose name is the payload."""
    return WarroomConfig.model_validate(
        {
            "services": [{"id": "checkout"}],
            "people": [
                {"id": "mallory", "name": STORED_TITLE[:100]},
                {"id": "rita", "name": "Rita"},
            ],
            "schedules": [
                {
                    "id": "primary",
                    "timezone": "UTC",
                    "layers": [
                        {
                            "name": "week",
                            "rotation": {
                                "every": "1w",
                                "handoff": "Mon 09:00",
                                "start": "2026-01-05",
                                "participants": ["mallory"],
                            },
                        }
                    ],
                }
            ],
            "status_page": {
                "title": "Acme status",
                "components": [{"id": "api", "name": "Public API", "services": ["checkout"]}],
            },
        }
    )


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def hostile(api: TestClient, runtime: Runtime, runbooks_dir: Path) -> dict[str, Any]:
    """Put the payloads in every text of one incident; yield what the API gave back."""
    made = ok(
        api.post(
            "/api/v1/incidents",
            json={"title": TITLE, "summary": TEXT, "severity": "SEV-2", "service": "checkout"},
        ),
        201,
    )
    ref = made["ref"]
    base = f"/api/v1/incidents/{ref}"
    note = ok(api.post(f"{base}/timeline", json={"text": TEXT, "key_event": True}), 201)
    sections = ok(api.get(f"{base}/checklist"))["sections"]
    item = next(i for s in sections if s["name"] != "Verification" for i in s["items"])
    checked = ok(api.patch(f"{base}/checklist/{item['id']}", json={"done": True, "note": TEXT}))
    update = {"status": "investigating", "body": TEXT, "public_title": TITLE}
    posted = ok(api.post(f"{base}/status-updates", json=update), 201)
    # The runbook file while the incident is active; resolving moves it to archive/.
    active = "\n".join(p.read_text() for p in sorted((runbooks_dir / "active").glob("*.md")))
    verify(api, ref)
    ok(api.post(f"{base}/resolve", json={"note": TEXT}))
    whys = [{"question": p, "answer": p} for p in PAYLOADS[:5]]
    lists = dict.fromkeys(("contributing_factors", "went_well", "went_poorly"), PAYLOADS)
    fishbone = {"People": PAYLOADS, "Process": [TEXT]}
    pm_fields = {"summary": TEXT, "impact": TEXT, "root_cause": TEXT, "five_whys": whys}
    pm = ok(api.put(f"{base}/postmortem", json={**pm_fields, **lists, "fishbone": fishbone}))
    action = ok(
        api.post(f"{base}/postmortem/action-items", json={"kind": "short_term", "title": TITLE}),
        201,
    )
    return {
        "ref": ref,
        "made": made,
        "note": note,
        "checked": checked,
        "update": posted,
        "pm": pm,
        "action": action,
        "active": active,
    }


# A form field's value and a textarea's text: kept as typed (bidi controls reorder nothing
# outside them, and saving the form must store what was there).
FIELDS = re.compile(r'<textarea[^>]*>.*?</textarea>|value="[^"]*"', re.S)


def assert_escaped_html(page: str) -> None:
    """No payload is live markup on the page; its escaped form is there, bidi shown."""
    for live in ("<script>alert(1)", "<img src=x", "<!channel>"):
        assert live not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    outside_fields = FIELDS.sub("", page)
    assert not BIDI.search(outside_fields)
    assert SHOWN in outside_fields


def test_the_api_gives_every_text_back_as_given(api: TestClient, hostile: dict[str, Any]) -> None:
    ref = hostile["ref"]
    incident = ok(api.get(f"/api/v1/incidents/{ref}"))
    assert (incident["title"], incident["summary"]) == (STORED_TITLE, TEXT)
    assert hostile["made"]["title"] == STORED_TITLE
    events = ok(api.get(f"/api/v1/incidents/{ref}/timeline"))
    texts = [e["text"] for e in (events if isinstance(events, list) else events["items"])]
    assert TEXT in texts  # the note, CR LF, bidi control and all
    sections = ok(api.get(f"/api/v1/incidents/{ref}/checklist"))["sections"]
    notes = [i.get("note") for s in sections for i in s["items"]]
    assert TEXT in notes
    updates = ok(api.get(f"/api/v1/incidents/{ref}/status-updates"))
    bodies = [u["body"] for u in (updates if isinstance(updates, list) else updates["items"])]
    assert TEXT in bodies
    pm = ok(api.get(f"/api/v1/incidents/{ref}/postmortem"))
    assert (pm["summary"], pm["impact"], pm["root_cause"]) == (TEXT, TEXT, TEXT)
    assert pm["went_well"] == PAYLOADS and pm["contributing_factors"] == PAYLOADS
    assert pm["fishbone"]["People"] == PAYLOADS and pm["fishbone"]["Process"] == [TEXT]
    assert [w["answer"] for w in pm["five_whys"]] == PAYLOADS[:5]
    assert hostile["action"]["title"] == TITLE


def test_every_page_escapes_it(
    runtime: Runtime, client: TestClient, hostile: dict[str, Any]
) -> None:
    ref = hostile["ref"]
    number = ref.removeprefix("INC-")
    add_user(runtime, "paula", "responder")
    sign_in(client, "paula")
    # The board lists open incidents: one more, still open, with the same title.
    ok(client.post("/api/v1/incidents", json={"title": TITLE}), 201)
    pages = ("/", "/incidents", f"/incidents/{number}", f"/incidents/{ref}/postmortem")
    # Search results: the title, and quotes of every kind of text, the matches marked.
    for path in (*pages, "/search?q=alert", "/search?q=gnp+exe", "/search?q=drop+table"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert_escaped_html(page.text)
    # The postmortem form gives its fields back as typed: saving it changes nothing.
    editor = client.get(f"/incidents/{ref}/postmortem").text
    found = re.search(r'<textarea name="summary"[^>]*>(.*?)</textarea>', editor, re.S)
    assert found is not None and html.unescape(found.group(1)) == TEXT
    client.cookies.clear()
    status = client.get("/status")
    assert status.status_code == 200
    assert_escaped_html(status.text)
    feed = client.get("/status/feed.atom")
    assert feed.status_code == 200
    root = ElementTree.fromstring(feed.content)  # well-formed XML: the payload is text
    content = "".join(root.itertext())
    assert "<script>alert(1)</script>" in content  # as text, escaped in the XML itself
    assert not BIDI.search(feed.text) and SHOWN in feed.text


def test_the_markdown_files_escape_it(
    api: TestClient, hostile: dict[str, Any], runbooks_dir: Path
) -> None:
    exported = ok(api.post(f"/api/v1/incidents/{hostile['ref']}/postmortem/export"))
    assert exported
    archive = runbooks_dir / "archive"
    files = {
        "active runbook": hostile["active"],
        "archived runbook": "\n".join(
            p.read_text() for p in archive.glob("*.md") if ".postmortem." not in p.name
        ),
        "postmortem": "".join(p.read_text() for p in archive.glob("*.postmortem.md")),
    }
    for name, text in files.items():
        assert text, name
        assert not BIDI.search(text), name  # in the front matter too
        if name != "postmortem":
            # The front matter is data: YAML quotes the title, and it reads back exactly.
            meta, _, text = text.removeprefix("---\n").partition("\n---\n")
            assert yaml.safe_load(meta)["title"] == STORED_TITLE, name
        assert SHOWN in text, name
        assert not re.search(r"(?<!\\)<(script|img|!channel)", text), name  # only `\\<`
        assert "\\<script>alert(1)\\</script>" in text, name
        # No payload line opens a heading: `## Checklist` stays text.
        assert not re.search(r"^#+ Checklist \(11/11\)", text, re.M), name
        assert "\\## Checklist (11/11)" in text, name
    html = "".join(p.read_text() for p in archive.glob("*.postmortem.html"))
    assert_escaped_html(html)


def test_the_svg_pictures_escape_it(api: TestClient, hostile: dict[str, Any]) -> None:
    for picture in ("fishbone.svg", "timeline.svg"):
        answer = api.get(f"/api/v1/incidents/{hostile['ref']}/postmortem/{picture}")
        assert answer.status_code == 200, answer.text
        ElementTree.fromstring(answer.content)  # still well-formed: nothing broke out
        assert "<script" not in answer.text and "<img" not in answer.text
        assert "&lt;script&gt;" in answer.text
        assert not BIDI.search(answer.text) and SHOWN in answer.text


def test_the_csv_neutralises_formulas(
    api: TestClient, hostile: dict[str, Any], clock: FrozenClock
) -> None:
    clock.advance(timedelta(minutes=1))  # the window ends now, exclusive
    answer = api.get("/api/v1/metrics/incidents.csv")
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    (row,) = [r for r in rows if r["ref"] == hostile["ref"]]
    assert row["title"] == "'" + STORED_TITLE.replace("\u202e", "{U+202E}")
    for cells in rows:
        for value in cells.values():
            assert not value.startswith(FORMULA_STARTS), value
            assert not BIDI.search(value)


def test_the_calendar_cannot_gain_a_property(api: TestClient, hostile: dict[str, Any]) -> None:
    answer = api.get("/api/v1/people/mallory/ical")
    assert answer.status_code == 200, answer.text
    lines = answer.text.replace("\r\n ", "").split("\r\n")  # unfolded
    summaries = [line for line in lines if line.startswith("SUMMARY")]
    assert summaries and all("{U+202E}" in line for line in summaries)
    assert not any(line.startswith(("BCC", "Bcc")) for line in lines)
    names = {line.split(":", 1)[0].split(";", 1)[0] for line in lines if line}
    allowed = {"BEGIN", "END", "PRODID", "VERSION", "CALSCALE", "METHOD", "NAME"}
    allowed |= {"X-WR-CALNAME", "UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"}
    assert names <= allowed | {"DESCRIPTION", "CATEGORIES", "TRANSP"}, names
    assert not BIDI.search(answer.text)


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    """The loopback Slack."""
    with SlackServer() as server:
        yield server


def test_slack_messages_escape_it(
    runtime: Runtime, hostile: dict[str, Any], slack: SlackServer
) -> None:
    with runtime.db.session() as session:
        card = card_of(get(session, hostile["ref"]), runtime.config(), None)
    chat = SlackChat(
        SlackConfig.model_validate(
            {"signing_secret": "s" * 32, "bot_token": slack.token, "base_url": slack.url}
        )
    )
    slack.add_channel("incidents")
    try:
        chat.post(channel="#incidents", text=f"{card.ref}: {card.title}", key="k1", card=card)
    finally:
        chat.close()
    (call,) = [c for c in slack.calls if c.method == "chat.postMessage"]
    sent = json.dumps(call.params, ensure_ascii=False)
    assert not BIDI.search(sent) and SHOWN in sent
    mrkdwn = [call.params["text"], *texts(call.params["blocks"], "mrkdwn")]
    assert any("&lt;!channel&gt;" in text for text in mrkdwn)
    for text in mrkdwn:  # Slack parses these: no mention, link or tag may survive
        assert not re.search(r"<(!|script|img|http)", text), text
    # The header is plain_text, which Slack shows as written (no mentions, no links).
    assert any("<!channel>" in text for text in texts(call.params["blocks"], "plain_text"))


def texts(node: Any, kind: str) -> Iterator[str]:
    """Yield the `text` of every Block Kit text object of `kind` (mrkdwn, plain_text)."""
    if isinstance(node, dict):
        if node.get("type") == kind and isinstance(node.get("text"), str):
            yield node["text"]
        for value in node.values():
            yield from texts(value, kind)
    elif isinstance(node, list):
        for value in node:
            yield from texts(value, kind)


def test_email_has_no_injected_header(
    runtime: Runtime, hostile: dict[str, Any], tmp_path: Path
) -> None:
    need(Controller is not None, "aiosmtpd is not installed")
    from tests.notify.test_smtp import Recorder, free_port

    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with runtime.db.session() as session:
            card = card_of(get(session, hostile["ref"]), runtime.config(), None)
        # The raw title (CR LF kept), as a subject could be built from any text.
        mail = email_text.page(card, "You are the primary on call.")
        mailer = SmtpMailer(
            SmtpConfig.model_validate({"host": "127.0.0.1", "port": port, "from": "w@example.com"})
        )
        mailer.send(
            to=["oncall@example.com"], subject=mail.subject, text=mail.text, html=mail.html, key="k"
        )
        mailer.send(to=["oncall@example.com"], subject=PAYLOADS[4], text=TEXT, html=None, key="k2")
    finally:
        controller.stop()
    assert len(handler.envelopes) == 2
    for envelope in handler.envelopes:
        assert envelope.rcpt_tos == ["oncall@example.com"]  # no Bcc reached the relay
    page: EmailMessage = handler.message(0)
    raw = email.message_from_bytes(handler.envelopes[1].content, policy=default_policy)
    for message in (page, raw):
        assert message["Bcc"] is None
        assert [k.lower() for k in message].count("subject") == 1
    assert raw["Subject"] == "line1 Bcc: evil@example.com"  # CR LF became one space
    assert "{U+202E}" in page["Subject"] and not BIDI.search(page["Subject"])
    body = page.get_body(("plain",))
    assert body is not None
    assert not BIDI.search(body.get_content())
    html = page.get_body(("html",))
    assert html is not None
    assert "<script>" not in html.get_content()
