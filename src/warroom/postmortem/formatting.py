"""Small text helpers the postmortem's SVG pictures and exports share."""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from warroom.core.text import show_bidi

FONT = "font-family='system-ui, sans-serif'"
# Characters XML 1.0 cannot hold at all; a parser would reject the whole document.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """Return `text` on one line, escaped for XML, without characters XML forbids."""
    # Bidi controls shown: in an SVG they would reorder the label unseen.
    return escape(show_bidi(_NOT_XML.sub("", " ".join(text.split()))))


def short(text: str, limit: int) -> str:
    """Return `text` on one line, cut to `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def span(seconds: float | None) -> str:
    """Format a duration as 45s, 12m, 3h 05m or 2d 4h (— when unknown)."""
    if seconds is None:
        return "—"
    days, rest = divmod(max(int(seconds), 0), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m" if minutes else f"{secs}s"
