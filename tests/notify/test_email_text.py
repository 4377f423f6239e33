"""Notification email texts: plain text that reads well, HTML that is well-formed and escaped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from warroom.notify import email_text
from warroom.notify.ports import IncidentCard

VOID = {"meta", "hr", "br", "img", "link", "input"}

CARD = IncidentCard(
    number=42,
    title="Checkout down",
    severity="SEV-1",
    severity_name="Critical",
    status="detected",
    summary="Checkout returns 502 for EU customers.",
    service="checkout",
    commander="alice",
    commander_name="Alice Ng",
    url="https://warroom.example.com/incidents/42",
    conference_url="https://zoom.us/j/85000000001",
    chat_channel="#inc-42-checkout-down",
    detected_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
)


class Page(HTMLParser):
    """Checks that tags nest and close; keeps the text, tags and links."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self.chunks: list[str] = []
        self.feed(markup)
        self.close()
        assert not self.stack, f"unclosed tags: {self.stack}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())


def test_page_says_what_how_bad_and_how_to_acknowledge():
    subject, text, html = email_text.page(CARD, "You are primary on-call for payments.")

    assert subject == "[SEV-1] INC-42 Checkout down — you are paged"
    for expected in (
        "You are paged: INC-42 Checkout down",
        "You are primary on-call for payments.",
        "SEV-1 (Critical)",
        "Alice Ng",
        "2026-03-02 09:00 UTC",
        "#inc-42-checkout-down",
        "Checkout returns 502 for EU customers.",
        "`warroom incident ack INC-42`",
        "https://warroom.example.com/incidents/42",
        "https://zoom.us/j/85000000001",
    ):
        assert expected in text
    page = Page(html)
    assert "warroom incident ack INC-42" in page.text
    assert "https://warroom.example.com/incidents/42" in page.links
    assert page.tags.count("h1") == 1


def test_plain_text_lines_stay_readable():
    long_step = "Escalation step 2 of payments-default. " * 10
    _, text, _ = email_text.page(replace(CARD, summary="word " * 60), long_step)
    for line in text.splitlines():
        # Only a single unbreakable word (a link) may run past the width.
        assert len(line) <= 72 or " " not in line.strip(), line
    # The command is never split over two lines, so it can be copied.
    assert "`warroom incident ack INC-42`" in text


def test_hostile_title_is_escaped_everywhere():
    card = replace(
        CARD,
        title='<script>alert("x")</script> & co',
        summary="<img src=x onerror=alert(1)>",
        chat_channel="#a<b>",
    )
    for rendered in (
        email_text.page(card, "<b>step</b>"),
        email_text.executive_summary(card, "<i>impact</i>", None),
        email_text.reminder(card, 15),
        email_text.bundle([(card, "one"), (replace(card, number=43), "two")]),
    ):
        page = Page(rendered.html)
        assert {"script", "img", "i", "b"}.isdisjoint(page.tags)
        assert '<script>alert("x")</script> & co' in page.text
        assert "&lt;script&gt;" in rendered.html
        # The plain text keeps the title as typed.
        assert '<script>alert("x")</script> & co' in rendered.text


def test_only_web_links_become_links():
    card = replace(CARD, url="javascript:alert(1)", conference_url="https://zoom.us/j/1")
    _, text, html = email_text.page(card, "")
    assert Page(html).links == ["https://zoom.us/j/1"]
    assert "javascript:" not in html
    assert "Acknowledge with `warroom incident ack INC-42`" in text


def test_link_with_quotes_cannot_break_the_attribute():
    card = replace(CARD, url='https://example.com/"><script>x</script>')
    page = Page(email_text.page(card, "").html)
    assert "script" not in page.tags
    assert 'https://example.com/"><script>x</script>' in page.links


def test_executive_summary_covers_the_runbook_points():
    subject, text, html = email_text.executive_summary(
        CARD,
        "EU customers cannot pay.",
        "Checkout in eu-west-1 only.",
        next_update="by 10:30 UTC",
    )
    assert subject == "[SEV-1] INC-42 Checkout down — executive summary"
    for expected in (
        "A SEV-1 (Critical) incident is in progress.",
        "What happened",
        "Checkout returns 502 for EU customers.",
        "EU customers cannot pay.",
        "Checkout in eu-west-1 only.",
        "Detected, not yet triaged",
        "Incident commander: Alice Ng",
        "Next update:        by 10:30 UTC",
        "https://warroom.example.com/incidents/42",
    ):
        assert expected in text
    page = Page(html)
    assert "EU customers cannot pay." in page.text
    assert page.tags.count("h2") >= 4


def test_executive_summary_before_assessment_and_after_resolution():
    card = replace(CARD, severity="SEV-2", severity_name="High", summary="", commander=None)
    card = replace(card, commander_name=None)
    _, text, _ = email_text.executive_summary(card, None, "  ")
    assert text.count("Being assessed.") == 2
    assert "Checkout down" in text  # the title stands in for a missing summary
    assert "not assigned yet" in text
    assert "when the status changes" in text

    _, text, _ = email_text.executive_summary(replace(CARD, status="resolved"), "x", "y")
    assert "has been resolved" in text


def test_reminder():
    subject, text, html = email_text.reminder(CARD, 30)
    assert subject == "[SEV-1] INC-42 Checkout down — no status update for 30 minutes"
    command = 'warroom incident status-update INC-42 --status identified --body "<what changed>"'
    assert command in text
    assert command in Page(html).text
    hint = '--public-title "<what the public reads>"'  # the first public update needs one
    assert hint in text and hint in Page(html).text
    assert email_text.reminder(CARD, 1).subject.endswith("for 1 minute")
    with pytest.raises(ValueError, match="minutes"):
        email_text.reminder(CARD, 0)


def test_bundle_orders_by_severity_and_lists_every_incident():
    minor = replace(CARD, number=7, title="Search slow", severity="SEV-3", severity_name="Medium")
    major = replace(CARD, number=9, title="Payments down")
    subject, text, html = email_text.bundle([(minor, "secondary"), (CARD, "primary"), (major, "p")])

    assert subject == "[SEV-1] You are paged for 3 incidents: INC-9, INC-42, INC-7"
    assert text.index("INC-9: Payments down") < text.index("INC-42: Checkout down")
    assert text.index("INC-42: Checkout down") < text.index("INC-7: Search slow")
    for ref in ("INC-7", "INC-9", "INC-42"):
        assert f"`warroom incident ack {ref}`" in text
    page = Page(html)
    assert page.tags.count("h2") == 3
    assert "SEV-3 (Medium)" in page.text


def test_bundle_of_one_is_a_page_and_empty_is_an_error():
    assert email_text.bundle([(CARD, "primary")]) == email_text.page(CARD, "primary")
    many = [(replace(CARD, number=n), "s") for n in range(1, 9)]
    assert email_text.bundle(many).subject.endswith("INC-1, INC-2, INC-3, INC-4, INC-5, …")
    with pytest.raises(ValueError, match="at least one"):
        email_text.bundle([])


def test_subject_is_one_line_and_bounded():
    card = replace(CARD, title="Checkout\r\ndown " + "x" * 300)
    subject = email_text.page(card, "").subject
    assert "\n" not in subject and "\r" not in subject
    assert len(subject) < 160
    assert "…" in subject
    assert card.title.replace("\r\n", " ") in email_text.page(card, "").text


def test_missing_optional_fields_are_left_out():
    bare = IncidentCard(
        number=1, title="Disk full", severity="SEV-4", severity_name="", status="triaged"
    )
    _, text, html = email_text.page(bare, "")
    assert "Severity:  SEV-4\n" in text
    assert "Service" not in text and "Conference" not in text and "Detected" not in text
    assert "not assigned yet" in text
    Page(html)
