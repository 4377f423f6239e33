"""Small text helpers shared by several packages."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = 48) -> str:
    """Return a lowercase ASCII slug of `text`, at most `max_length` characters."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _NON_WORD.sub("-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or "incident"


# Unicode's explicit direction controls: embeddings and overrides (U+202A–U+202E), isolates
# (U+2066–U+2069), the marks (U+200E, U+200F, U+061C). Stored as given, but an output a person
# reads shows them as `{U+202E}`: unseen, they reorder what follows ("\u202egnp.exe" reads
# "exe.png"), and one left open can flip the rest of a line that is not theirs.
BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def show_bidi(text: str) -> str:
    """Return `text` with each bidi control written out as `{U+XXXX}`: visible and inert."""
    if not BIDI_CONTROLS.search(text):
        return text
    return BIDI_CONTROLS.sub(lambda found: f"{{U+{ord(found.group()):04X}}}", text)


DRILL_MARK = "[DRILL] "  # every title of a practice incident starts with it (drills/)


def drill_title(title: str, limit: int = 200) -> str:
    """Return the title marked as a drill's (once), cut to `limit` characters."""
    if title.startswith(DRILL_MARK):
        return title[:limit]
    return (DRILL_MARK + title)[:limit]
