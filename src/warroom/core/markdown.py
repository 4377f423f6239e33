"""Put user text into a markdown file as text: it may not add headings, HTML, links or a list.

Only what would change the document's structure is escaped, so ordinary text reads as it
was written: `<` (HTML, autolinks) and `[` (links, images, task boxes) everywhere, and at a
line's start whatever opens a block — `#`, `>`, a fence, a thematic break or setext
underline (`---`, `===`), a table row. A bullet (`- `, `1. `) stays a bullet, but a
`- [x]` box in user text is only text, never a checklist item.
"""

from __future__ import annotations

import re

from warroom.core.text import show_bidi

# A list marker a line may start with (kept), then what may follow it.
_MARKER = re.compile(r"^([ \t]*)((?:[-*+]|\d{1,9}[.)])[ \t]+)?")
_BACKSLASH = re.compile(r"\\(?=[!-/:-@\[-`{-~])")
_BLOCK_START = re.compile(r"^(#|>|`{3}|~{3}|\||[-=*_+][-=*_+ \t]*$)")


def escape_line(line: str) -> str:
    """Return one line with HTML, links and block-opening characters escaped."""
    # Bidi controls are shown, not kept: a markdown viewer would let them reorder the line.
    line = show_bidi(line)
    # A backslash before punctuation escapes it: doubled, so `\<` cannot undo our escape.
    line = _BACKSLASH.sub(r"\\\\", line).replace("<", "\\<").replace("[", "\\[")
    found = _MARKER.match(line)
    head = found.group(0) if found else ""
    rest = line[len(head) :]
    if _BLOCK_START.match(rest):
        rest = "\\" + rest
    return head + rest


def inline(text: object) -> str:
    """Return `text` on one line, escaped: safe anywhere in a line, even at its start."""
    return escape_line(" ".join(str(text).split()))


def block(text: object) -> str:
    """Return multi-line text escaped line by line; its blank lines still part paragraphs."""
    lines = str(text).replace("\r\n", "\n").replace("\r", "\n").strip("\n").split("\n")
    return "\n".join(escape_line(line.rstrip()) for line in lines)


def cell(text: object) -> str:
    """Return `text` for a table cell: one line, escaped, `|` escaped too."""
    return inline(text).replace("|", "\\|")
