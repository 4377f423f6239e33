"""The texts of warroom's notification emails, as plain text and HTML from one description.

Each function returns an `Email` (subject, text, html). The plain text is the primary part:
it reads well in a terminal mail client; the HTML escapes every value, so an incident titled
`<script>` arrives as text.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import NamedTuple
from urllib.parse import urlsplit

from warroom.notify.ports import IncidentCard

_WIDTH = 72
_SUBJECT_TITLE = 100  # long titles are cut in subjects; the body has them whole
_BUNDLE_REFS = 5
_KEEP = "\x00"

_STATUS = {
    "detected": "Detected, not yet triaged",
    "triaged": "Triaged, being worked on",
    "mitigated": "Mitigated: impact has stopped, verifying",
    "resolved": "Resolved",
    "closed": "Closed",
}


class Email(NamedTuple):
    """A rendered message."""

    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Code:
    """A command to type, shown in a monospace font."""

    text: str


@dataclass(frozen=True)
class Link:
    """A link; in plain text the address is written out."""

    label: str
    href: str


Part = str | Code | Link
Fact = tuple[str, Part | None]  # rows whose value is None are left out


class _Document:
    """Paragraphs, headings and label/value tables rendered to text and HTML together."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self._text: list[str] = []
        self._html: list[str] = []

    def heading(self, text: str, *, level: int = 1) -> None:
        underline = "=" if level == 1 else "-"
        self._text.append(f"{text}\n{underline * min(len(text), _WIDTH)}")
        size = 18 if level == 1 else 15
        self._html.append(f'<h{level} style="font-size:{size}px">{escape(text)}</h{level}>')

    def para(self, *parts: Part) -> None:
        # Commands are kept on one line (a placeholder space survives wrapping).
        flat = "".join(
            _text_part(part).replace(" ", _KEEP) if isinstance(part, Code) else _text_part(part)
            for part in parts
        )
        self._text.append(_wrap(flat).replace(_KEEP, " "))
        self._html.append(f"<p>{''.join(_html_part(part) for part in parts)}</p>")

    def facts(self, rows: Sequence[Fact]) -> None:
        shown = [(label, value) for label, value in rows if value is not None and value != ""]
        if not shown:
            return
        width = max(len(label) for label, _ in shown) + 2
        self._text.append(
            "\n".join(f"{label + ':':<{width}}{_text_part(value)}" for label, value in shown)
        )
        cells = "".join(
            f'<tr><th style="text-align:left;padding-right:12px;vertical-align:top">'
            f"{escape(label)}</th><td>{_html_part(value)}</td></tr>"
            for label, value in shown
        )
        self._html.append(
            f'<table role="presentation" style="border-collapse:collapse">{cells}</table>'
        )

    def rule(self) -> None:
        self._text.append("-" * 24)
        self._html.append("<hr>")

    def render(self) -> Email:
        self.rule()
        footer = "Sent by warroom. The incident page has the full timeline."
        self._text.append(footer)
        self._html.append(f'<p style="color:#666;font-size:12px">{escape(footer)}</p>')
        text = "\n\n".join(self._text) + "\n"
        html = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(self.subject)}</title></head>\n"
            '<body style="font-family:sans-serif;line-height:1.4">\n'
            + "\n".join(self._html)
            + "\n</body></html>\n"
        )
        return Email(self.subject, text, html)


def page(card: IncidentCard, step_text: str, ack_url: str | None = None) -> Email:
    """Render the message that pages one person for one incident."""
    doc = _Document(_subject(card, "you are paged"))
    doc.heading(f"You are paged: {card.ref} {_one_line(card.title)}")
    _page_body(doc, card, step_text, ack_url)
    return doc.render()


def bundle(
    pages: Sequence[tuple[IncidentCard, str] | tuple[IncidentCard, str, str | None]],
) -> Email:
    """Render several pages to one person as one message, most severe first."""
    if not pages:
        raise ValueError("a bundle needs at least one page")
    if len(pages) == 1:
        return page(*pages[0])
    ordered = sorted(pages, key=lambda item: (item[0].severity, item[0].number))
    refs = [item[0].ref for item in ordered]
    listed = ", ".join(refs[:_BUNDLE_REFS]) + (", …" if len(refs) > _BUNDLE_REFS else "")
    top = ordered[0][0].severity
    doc = _Document(f"[{top}] You are paged for {len(ordered)} incidents: {listed}")
    doc.heading(f"You are paged for {len(ordered)} incidents")
    for card, step_text, *ack in ordered:
        doc.heading(f"{card.ref}: {_one_line(card.title)}", level=2)
        _page_body(doc, card, step_text, ack[0] if ack else None)
    return doc.render()


def executive_summary(
    card: IncidentCard,
    impact: str | None,
    scope: str | None,
    *,
    next_update: str | None = None,
) -> Email:
    """Render the executive summary sent for SEV-1 and SEV-2 incidents."""
    doc = _Document(_subject(card, "executive summary"))
    doc.heading(f"{card.ref}: {_one_line(card.title)}")
    if card.status in ("resolved", "closed"):
        doc.para(f"This {_severity(card)} incident has been resolved.")
    else:
        doc.para(f"A {_severity(card)} incident is in progress.")
    doc.heading("What happened", level=2)
    doc.para(card.summary.strip() or card.title)
    doc.heading("Impact", level=2)
    doc.para((impact or "").strip() or "Being assessed.")
    doc.heading("Scope", level=2)
    doc.para((scope or "").strip() or "Being assessed.")
    doc.heading("Current status", level=2)
    doc.facts(
        [
            ("Status", _STATUS.get(card.status, card.status)),
            ("Severity", _severity(card)),
            ("Service", card.service),
            ("Incident commander", _commander(card)),
            ("Detected", _when(card.detected_at)),
            ("Next update", next_update or "when the status changes"),
        ]
    )
    doc.heading("Links", level=2)
    doc.facts(_links(card))
    doc.para(
        "You receive this because the incident response runbook informs the executive team "
        "of every SEV-1 and SEV-2 incident."
    )
    return doc.render()


def reminder(card: IncidentCard, minutes: int) -> Email:
    """Render the reminder that an incident has had no status update for `minutes`."""
    if minutes < 1:
        raise ValueError("minutes must be at least 1")
    span = "1 minute" if minutes == 1 else f"{minutes} minutes"
    doc = _Document(_subject(card, f"no status update for {span}"))
    doc.heading(f"{card.ref} has had no status update for {span}")
    doc.para("People following the incident are waiting for news, even if it is “no change”.")
    doc.facts(
        [
            ("Incident", _one_line(card.title)),
            ("Severity", _severity(card)),
            ("Status", _STATUS.get(card.status, card.status)),
            ("Commander", _commander(card)),
            *_links(card),
        ]
    )
    update: list[Part] = [
        "Post an update with ",
        Code(
            f'warroom incident status-update {card.ref} --status identified --body "<what changed>"'
        ),
    ]
    if _safe(card.url):
        update += [" or on the incident page: ", Link(str(card.url), str(card.url))]
    doc.para(*update)
    doc.para(
        "The incident's first public update also names it for the public with ",
        Code('--public-title "<what the public reads>"'),
        ": its own title is internal and never shown on the status page.",
    )
    return doc.render()


def _page_body(
    doc: _Document, card: IncidentCard, step_text: str, ack_url: str | None = None
) -> None:
    if step_text.strip():
        doc.para(step_text.strip())
    doc.facts(
        [
            ("Severity", _severity(card)),
            ("Status", _STATUS.get(card.status, card.status)),
            ("Service", card.service),
            ("Commander", _commander(card)),
            ("Detected", _when(card.detected_at)),
            *_links(card),
        ]
    )
    if card.summary.strip():
        doc.para(card.summary.strip())
    if _safe(ack_url):  # the one-click link: it opens a confirm page, a scanner changes nothing
        doc.para("Acknowledge in one click: ", Link(str(ack_url), str(ack_url)))
    ack: list[Part] = ["Acknowledge with ", Code(f"warroom incident ack {card.ref}")]
    if _safe(card.url):
        ack += [" or on the incident page: ", Link(str(card.url), str(card.url))]
    doc.para(*ack)


def _links(card: IncidentCard) -> list[Fact]:
    rows: list[Fact] = []
    if _safe(card.url):
        rows.append(("Incident page", Link(str(card.url), str(card.url))))
    if card.chat_channel:
        rows.append(("Chat channel", card.chat_channel))
    if _safe(card.conference_url):
        rows.append(("Conference", Link(str(card.conference_url), str(card.conference_url))))
    return rows


def _subject(card: IncidentCard, what: str) -> str:
    title = _one_line(card.title)
    if len(title) > _SUBJECT_TITLE:
        title = title[: _SUBJECT_TITLE - 1].rstrip() + "…"
    return f"[{card.severity}] {card.ref} {title} — {what}"


def _severity(card: IncidentCard) -> str:
    return f"{card.severity} ({card.severity_name})" if card.severity_name else card.severity


def _commander(card: IncidentCard) -> str:
    return card.commander_name or card.commander or "not assigned yet"


def _when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _safe(url: str | None) -> bool:
    """Only web links become links: a `javascript:` address in a title field must not."""
    return bool(url) and urlsplit(str(url)).scheme in ("http", "https")


def _text_part(part: Part) -> str:
    if isinstance(part, Code):
        return f"`{part.text}`"
    if isinstance(part, Link):
        return part.href if part.label == part.href else f"{part.label} <{part.href}>"
    return part


def _html_part(part: Part) -> str:
    if isinstance(part, Code):
        return f"<code>{escape(part.text)}</code>"
    if isinstance(part, Link):
        return f'<a href="{escape(part.href, quote=True)}">{escape(part.label)}</a>'
    return escape(part)


def _wrap(text: str) -> str:
    # Long words (links, commands) stay whole so they can still be copied.
    return "\n".join(
        textwrap.fill(line, _WIDTH, break_long_words=False, break_on_hyphens=False) or line
        for line in text.splitlines() or [""]
    )
