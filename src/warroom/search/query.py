"""What a person types into the search box, made safe for FTS5 and tsquery.

Words must all appear in one document (a title and summary, a note, …); "quoted words" must
appear together, and so must the parts of `checkout-api`. Nothing typed reaches either
engine's query syntax: each term is reduced to its word characters and quoted again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from warroom.core.errors import Invalid

MAX_TERMS = 16
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Terms:
    """The phrases of a query, each a tuple of words (a single word is a phrase of one)."""

    phrases: tuple[tuple[str, ...], ...]

    def fts5(self) -> str:
        """Return the query in FTS5's syntax: quoted phrases, all required."""
        return " ".join('"' + " ".join(phrase) + '"' for phrase in self.phrases)

    def websearch(self) -> str:
        """Return the query for PostgreSQL's websearch_to_tsquery: the same quoted phrases."""
        return self.fts5()

    def words(self) -> list[str]:
        """Return every word, for highlighting and the page's heading."""
        return [word for phrase in self.phrases for word in phrase]


def parse(text: str) -> Terms:
    """Return the phrases of `text`, or raise Invalid when there is nothing to search for."""
    phrases: list[tuple[str, ...]] = []
    for quoted, bare in _TERM.findall(text):
        words = tuple(word.lower() for word in _WORD.findall(quoted or bare))
        if words and words not in phrases:
            phrases.append(words)
    if not phrases:
        raise Invalid("q has no words to search for (letters or digits)", {"field": "q"})
    if len(phrases) > MAX_TERMS:
        raise Invalid(f"q has {len(phrases)} terms; search for at most {MAX_TERMS}", {"field": "q"})
    return Terms(tuple(phrases))
