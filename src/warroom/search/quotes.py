"""Quotes of where a search matched: the matched words marked, the original text kept."""

from __future__ import annotations

import string

# What the index reads as spaces on PostgreSQL, as FTS5 does (migration 0027: its parser would
# keep a host or path whole, read SUP-123 as "SUP" and "-123", take `<…>` for a tag).
PUNCTUATION = string.punctuation
_AS_SPACES = str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))
BETWEEN = "\ue002"  # between two fragments of a PostgreSQL quote
# Around the matched words in a quote: characters from Unicode's private use area, which no
# language writes; the quote is split on them, never interpreted as markup.
MARK, UNMARK = "\ue000", "\ue001"
Part = tuple[str, bool]  # a piece of a quote, and whether it is a matched word


def restore(original: str, quote: str) -> str:
    """Return a quote PostgreSQL made from the text with PUNCTUATION as spaces, with the
    original characters back (the two have the same length, character for character)."""
    spaced = original.translate(_AS_SPACES)
    fragments, start = [], 0
    for fragment in quote.split(BETWEEN):
        bare = fragment.replace(MARK, "").replace(UNMARK, "")
        at = spaced.find(bare, start)
        if at < 0 or not bare:  # not found as given: keep it as PostgreSQL gave it
            fragments.append(fragment)
            continue
        chars = []
        for char in fragment:
            if char in (MARK, UNMARK):
                chars.append(char)
            else:
                chars.append(original[at])
                at += 1
        fragments.append("".join(chars))
        start = at
    return " … ".join(fragments)


def parts(quote: str) -> list[Part]:
    """Split a marked quote into plain and matched pieces (the markers themselves dropped)."""
    out: list[Part] = []
    rest = " ".join(quote.split())
    while rest:
        start = rest.find(MARK)
        if start < 0:
            out.append((rest.replace(UNMARK, ""), False))
            break
        if start:
            out.append((rest[:start].replace(UNMARK, ""), False))
        end = rest.find(UNMARK, start + 1)
        end = len(rest) if end < 0 else end
        word = rest[start + 1 : end].replace(MARK, "")
        if word:
            out.append((word, True))
        rest = rest[end + 1 :]
    return [(piece, matched) for piece, matched in out if piece]
