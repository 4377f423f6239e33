"""Search incidents by what was written about them, within what the caller may see.

One query ranks the incidents the caller may see (incidents/visibility.py, inside the SQL:
nothing hidden is ranked, counted or quoted) by their best-matching document and counts them;
a second one quotes the best document of each incident on the page, with the words marked.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    bindparam,
    column,
    func,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session

from warroom.incidents.models import Incident
from warroom.search.models import SearchDocument
from warroom.search.query import Terms

# What the index reads as spaces on PostgreSQL, as FTS5 does (migration 0027: its parser would
# keep a host or path whole, read SUP-123 as "SUP" and "-123", take `<…>` for a tag).
PUNCTUATION = string.punctuation
_AS_SPACES = str.maketrans(PUNCTUATION, " " * len(PUNCTUATION))
BETWEEN = "\ue002"  # between two fragments of a PostgreSQL quote
# Around the matched words in a quote: characters from Unicode's private use area, which no
# language writes; the quote is split on them, never interpreted as markup.
MARK, UNMARK = "\ue000", "\ue001"
SNIPPET_WORDS = 24
DOCS = SearchDocument.__table__
FTS = table("search_fts", column("rowid", Integer), column("rank", Float))
Part = tuple[str, bool]  # a piece of a quote, and whether it is a matched word


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search besides its words; None means any."""

    service: str | None = None
    severity: list[str] | None = None
    status: list[str] | None = None
    incident_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Found:
    """What a hit shows of its incident (read before the session ends)."""

    number: int
    title: str
    status: str
    severity: str
    service: str | None
    incident_type: str
    visibility: str
    detected_at: datetime

    @property
    def ref(self) -> str:
        """Return the human reference, `INC-<n>`."""
        return f"INC-{self.number}"

    @classmethod
    def of(cls, row: Incident) -> Found:
        """Return what a hit shows of the incident `row`."""
        return cls(
            number=row.number,
            title=row.title,
            status=row.status,
            severity=row.severity,
            service=row.service,
            incident_type=row.incident_type,
            visibility=row.visibility,
            detected_at=row.detected_at,
        )


@dataclass(frozen=True)
class Hit:
    """An incident found, where its best match is and a quote of it."""

    incident: Found
    kind: str
    score: float
    snippet: list[Part]


@dataclass(frozen=True)
class Results:
    """One page of hits, best first, and how many incidents matched in all."""

    hits: list[Hit]
    total: int
    page: int
    per_page: int

    @property
    def next_page(self) -> int | None:
        """Return the next page's number, or None on the last page."""
        return self.page + 1 if self.page * self.per_page < self.total else None


def search(
    session: Session,
    *,
    terms: Terms,
    visible: ColumnElement[bool],
    filters: SearchFilters,
    page: int = 1,
    per_page: int = 20,
) -> Results:
    """Return page `page` of the incidents `visible` lets the caller see that match `terms`."""
    offset = (page - 1) * per_page
    if session.get_bind().dialect.name == "sqlite":
        ranked, quotes = _sqlite(session, terms, visible, filters, per_page, offset)
    else:
        ranked, quotes = _postgresql(session, terms, visible, filters, per_page, offset)
    total = ranked[0][-1] if ranked else _count(session, terms, visible, filters, offset)
    hits = [
        Hit(Found.of(row), kind=quotes[row.id][0], score=score, snippet=quotes[row.id][1])
        for row, score, _total in ranked
    ]
    return Results(hits=hits, total=total, page=page, per_page=per_page)


def _narrowed(
    stmt: Select[Any], visible: ColumnElement[bool], filters: SearchFilters
) -> Select[Any]:
    stmt = stmt.where(visible)
    if filters.service:
        stmt = stmt.where(Incident.service == filters.service)
    if filters.severity:
        stmt = stmt.where(Incident.severity.in_(filters.severity))
    if filters.status:
        stmt = stmt.where(Incident.status.in_(filters.status))
    if filters.incident_type:
        stmt = stmt.where(Incident.incident_type == filters.incident_type)
    if filters.since:
        stmt = stmt.where(Incident.detected_at >= filters.since)
    if filters.until:
        stmt = stmt.where(Incident.detected_at < filters.until)
    return stmt


def _sqlite_matches(terms: Terms) -> ColumnElement[bool]:
    return literal_column("search_fts").op("MATCH")(bindparam("q", terms.fts5()))


def _pg_query() -> ColumnElement[Any]:
    return func.websearch_to_tsquery(literal_column("'english'::regconfig"), bindparam("q"))


_Ranked = list[tuple[Incident, float, int]]
_Quotes = dict[int, tuple[str, list[Part]]]


def _sqlite(
    session: Session,
    terms: Terms,
    visible: ColumnElement[bool],
    filters: SearchFilters,
    limit: int,
    offset: int,
) -> tuple[_Ranked, _Quotes]:
    # bm25 is lower for better matches; with min() as the only aggregate, SQLite takes the
    # bare columns (the document's id and kind) from the row that gave the minimum.
    best = func.min(FTS.c.rank)
    stmt = (
        select(Incident, best, DOCS.c.id, DOCS.c.kind, func.count().over())
        .select_from(FTS)
        .join(DOCS, DOCS.c.id == FTS.c.rowid)
        .join(Incident, Incident.id == DOCS.c.incident_id)
        .where(_sqlite_matches(terms))
        .group_by(Incident.id)
        .order_by(best, Incident.number.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(_narrowed(stmt, visible, filters)).all()
    kinds = {row[2]: (row[0].id, row[3]) for row in rows}
    quotes: _Quotes = {}
    if kinds:
        snippet = func.snippet(literal_column("search_fts"), -1, MARK, UNMARK, "…", SNIPPET_WORDS)
        found = session.execute(
            select(FTS.c.rowid, snippet)
            .select_from(FTS)
            .where(_sqlite_matches(terms), FTS.c.rowid.in_(list(kinds)))
        )
        for doc_id, quote in found:
            incident_id, kind = kinds[doc_id]
            quotes[incident_id] = (kind, parts(quote))
    return [(row[0], -float(row[1]), int(row[4])) for row in rows], quotes


def _postgresql(
    session: Session,
    terms: Terms,
    visible: ColumnElement[bool],
    filters: SearchFilters,
    limit: int,
    offset: int,
) -> tuple[_Ranked, _Quotes]:
    tsv = literal_column("search_documents.tsv")
    best = func.max(func.ts_rank(tsv, _pg_query()))
    stmt = (
        select(Incident, best, func.count().over())
        .select_from(DOCS)
        .join(Incident, Incident.id == DOCS.c.incident_id)
        .where(tsv.op("@@")(_pg_query()))
        .group_by(Incident.id)
        .order_by(best.desc(), Incident.number.desc())
        .limit(limit)
        .offset(offset)
    )
    params = {"q": terms.websearch()}
    rows = session.execute(_narrowed(stmt, visible, filters), params).all()
    quotes: _Quotes = {}
    if rows:
        # The page's incidents only: their matching documents, the best of each, quoted.
        ids = [row[0].id for row in rows]
        spaced = {"punctuation": PUNCTUATION, "spaces": " " * len(PUNCTUATION)}
        found = session.execute(_PG_QUOTES, {**params, **spaced, "ids": ids})
        quotes = {
            incident_id: (kind, parts(restore(original, quote)))
            for incident_id, kind, original, quote in found
        }
    return [(row[0], float(row[1]), int(row[2])) for row in rows], quotes


_PG_QUOTES = text(
    f"""
    SELECT best.incident_id, best.kind, best.text, ts_headline(
        'english', translate(best.text, :punctuation, :spaces),
        websearch_to_tsquery('english', :q),
        'StartSel={MARK}, StopSel={UNMARK}, MaxWords={SNIPPET_WORDS}, MinWords=8, '
        'MaxFragments=2, FragmentDelimiter={BETWEEN}')
    FROM (
        SELECT DISTINCT ON (d.incident_id) d.incident_id, d.kind,
            concat_ws(' — ', NULLIF(d.heading, ''), NULLIF(d.body, '')) AS text
        FROM search_documents d
        WHERE d.incident_id = ANY(:ids) AND d.tsv @@ websearch_to_tsquery('english', :q)
        ORDER BY d.incident_id, ts_rank(d.tsv, websearch_to_tsquery('english', :q)) DESC, d.id
    ) AS best
    """
)


def _count(
    session: Session,
    terms: Terms,
    visible: ColumnElement[bool],
    filters: SearchFilters,
    offset: int,
) -> int:
    """Return how many incidents match, for a page past the last (the window gave none)."""
    if not offset:
        return 0
    if session.get_bind().dialect.name == "sqlite":
        stmt = (
            select(func.count(func.distinct(DOCS.c.incident_id)))
            .select_from(FTS)
            .join(DOCS, DOCS.c.id == FTS.c.rowid)
            .join(Incident, Incident.id == DOCS.c.incident_id)
            .where(_sqlite_matches(terms))
        )
        return int(session.scalar(_narrowed(stmt, visible, filters)) or 0)
    tsv = literal_column("search_documents.tsv")
    stmt = (
        select(func.count(func.distinct(DOCS.c.incident_id)))
        .select_from(DOCS)
        .join(Incident, Incident.id == DOCS.c.incident_id)
        .where(tsv.op("@@")(_pg_query()))
    )
    return int(session.scalar(_narrowed(stmt, visible, filters), {"q": terms.websearch()}) or 0)


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
