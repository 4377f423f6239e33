"""Search incidents by what was written about them, within what the caller may see.

One query ranks the incidents the caller may see (incidents/visibility.py, inside the SQL:
nothing hidden is ranked, counted or quoted) by their best-matching document and counts them;
a second one quotes the best document of each incident on the page, with the words marked.
"""

from __future__ import annotations

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
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import True_

from warroom.incidents.models import Incident
from warroom.search.models import SearchDocument
from warroom.search.query import Terms
from warroom.search.quotes import BETWEEN, MARK, PUNCTUATION, UNMARK, Part, parts, restore

SNIPPET_WORDS = 24
# The newest places a search scores (see _candidates): bounds its cost whatever the words.
CANDIDATES = 1_000
FIRST_WINDOW = 40_000  # PostgreSQL: the newest documents looked at first (see search)
DOCS = SearchDocument.__table__
FTS = table("search_fts", column("rowid", Integer), column("rank", Float))


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
    # True when more places matched than CANDIDATES: the hits are the best of the newest
    # CANDIDATES, and `total` counts the incidents among them (a lower bound).
    capped: bool = False

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
    sqlite = session.get_bind().dialect.name == "sqlite"
    params: dict[str, Any] = {"q": terms.fts5() if sqlite else terms.websearch()}
    if not sqlite:
        # Each query reads a bounded few thousand rows: starting parallel workers costs more
        # than it saves (and most under load), in this read transaction only.
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    lowest = _lowest(session, filters) if sqlite else -1
    params["first"] = _first_incident(session, filters)
    # SQLite hands out FTS5's matches newest first and stops at CANDIDATES by itself. From
    # PostgreSQL's GIN index comes every match, and reading each row costs: look among the
    # newest documents first, then wider (by how many were found), until CANDIDATES are
    # found or all were read. `since` bounds the incidents instead.
    newest = -1 if sqlite or params["first"] >= 0 else _newest(session)
    # A filter on the incidents lets a share of the matches through: look wider at once.
    width = FIRST_WINDOW if filters == SearchFilters() else FIRST_WINDOW * 4
    sparse = False  # known after the first look: fewer matches than CANDIDATES in it
    while True:
        floor = newest - width if newest - width > 0 else -1
        params["floor"] = max(floor, lowest)
        ranked = _ranked(session, sqlite, visible, filters, params, page, per_page, sparse)
        documents = int(ranked[0][4]) if ranked else 0
        if documents >= CANDIDATES or floor <= lowest:
            break  # the newest CANDIDATES are all above this floor, or nothing is below
        # Rare among the newest: read the wider window's matches through the GIN index. Not
        # with filters: there the few that passed say little of how many matched.
        sparse = filters == SearchFilters()
        width = int(width * min(8.0, max(2.0, 1.5 * CANDIDATES / max(documents, 1))))
    if not ranked:
        total, capped = (
            _count(session, sqlite, visible, filters, params) if page > 1 else (0, False)
        )
        return Results(hits=[], total=total, page=page, per_page=per_page, capped=capped)
    ids = [row[0] for row in ranked]
    incidents = {
        row.id: row for row in session.scalars(select(Incident).where(Incident.id.in_(ids)))
    }
    if sqlite:
        quotes = _sqlite_quotes(session, {row[2]: row[0] for row in ranked}, params)
    else:
        quotes = _pg_quotes(session, ids, params)
    hits = [
        Hit(
            Found.of(incidents[incident_id]),
            kind=quotes[incident_id][0],
            score=-float(score) if sqlite else float(score),
            snippet=quotes[incident_id][1],
        )
        for incident_id, score, *_ in ranked
    ]
    return Results(
        hits=hits,
        total=int(ranked[0][3]),
        page=page,
        per_page=per_page,
        capped=documents >= CANDIDATES,
    )


def _lowest(session: Session, filters: SearchFilters) -> int:
    """Return a document id below which no document matches `since` (SQLite; -1: none)."""
    if filters.since is None:
        return -1
    # SQLite writes one transaction at a time, so incidents' own documents (title and
    # summary) come in incident order, and each incident's other documents after its own
    # (migration 0027's backfill keeps both, and since 0029 an edit keeps its document's
    # id): none of the incidents detected since then has a document older than the own
    # document of the first of them.
    first = _first_since(filters.since)
    own = select(DOCS.c.id).where(
        DOCS.c.kind == "incident", DOCS.c.source_id == first.scalar_subquery()
    )
    found = session.scalar(own)
    return int(found) - 1 if found is not None else -1


def _first_since(since: datetime) -> Select[Any]:
    """Return "the lowest incident id detected since `since`", read from the time index."""
    # `+ 0`: with min(id) itself SQLite walks the ids from the oldest and tests each time
    # (most of the table); this way it reads the few recent entries of the time index.
    return select(func.min(Incident.id + 0)).where(Incident.detected_at >= since)


def _first_incident(session: Session, filters: SearchFilters) -> int:
    """Return the lowest incident id `since` lets through (-1: any)."""
    if filters.since is None:
        return -1
    first = session.scalar(_first_since(filters.since))
    return int(first) if first is not None else -1


def _newest(session: Session) -> int:
    """Return the newest document's id."""
    return int(session.scalar(select(func.max(DOCS.c.id))) or 0)


def _ranked(
    session: Session,
    sqlite: bool,
    visible: ColumnElement[bool],
    filters: SearchFilters,
    params: dict[str, Any],
    page: int,
    per_page: int,
    sparse: bool = False,
) -> list[Any]:
    """Return a page of (incident id, score, best document, incidents, documents)."""
    candidates = _candidates(sqlite, visible, filters, sparse)
    # Best first: bm25 is lower for a better match, ts_rank higher. With min() or max() the
    # only aggregate, SQLite takes the bare `doc` from the row that gave it (PostgreSQL's
    # quotes pick their document themselves). Ties: the newer incident first.
    best = func.min(candidates.c.score) if sqlite else func.max(candidates.c.score)
    return list(
        session.execute(
            select(
                candidates.c.incident_id,
                best,
                candidates.c.doc if sqlite else literal(0),
                func.count().over(),
                func.sum(func.count()).over(),
            )
            .group_by(candidates.c.incident_id)
            .order_by(best if sqlite else best.desc(), candidates.c.incident_id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page),
            params,
        ).all()
    )


def _candidates(
    sqlite: bool, visible: ColumnElement[bool], filters: SearchFilters, sparse: bool = False
) -> Any:
    """Return (as a subquery) the newest CANDIDATES matching documents the caller may see,
    scored: `incident_id`, `score`, `doc`."""
    # Newest first, because a full-text index hands out its matches in id order without
    # sorting them: the scan stops after CANDIDATES, and only those are scored and grouped.
    # A word in a quarter of all incidents costs what a rarer one does (docs/search.md).
    if sqlite:
        # SQLite computes `rank` only for the rows the LIMIT lets through.
        stmt = (
            select(
                DOCS.c.incident_id.label("incident_id"),
                FTS.c.rank.label("score"),
                FTS.c.rowid.label("doc"),
            )
            .select_from(FTS)
            .join(DOCS, DOCS.c.id == FTS.c.rowid)
            .where(_sqlite_matches(), FTS.c.rowid > bindparam("floor"))
            .order_by(FTS.c.rowid.desc())
        )
        narrowed = _narrowed(stmt, DOCS.c.incident_id, visible, filters)
        return narrowed.limit(CANDIDATES).subquery("candidates")
    tsv: ColumnElement[Any] = literal_column("search_documents.tsv")
    matching: Any = (
        select(DOCS.c.incident_id.label("incident_id"), DOCS.c.id.label("doc"))
        .where(tsv.op("@@")(_pg_query()), DOCS.c.id > bindparam("floor"))
        # Exact, and lets PostgreSQL combine the documents' incident index with the match.
        .where(DOCS.c.incident_id >= bindparam("first"))
    )
    if sparse:
        # The words are rare in the newest documents: read every match of the wider window
        # through the GIN index. Asked for the newest few in id order, the planner would walk
        # the ids backwards and test each document's words (tens of thousands of rows).
        matching = matching.cte("matching").prefix_with("MATERIALIZED")
    else:
        matching = matching.subquery("matching")
    newest = select(matching.c.incident_id, matching.c.doc).order_by(matching.c.doc.desc())
    found = (
        _narrowed(newest, matching.c.incident_id, visible, filters)
        .limit(CANDIDATES)
        .subquery("found")
    )
    # PostgreSQL would score every match before sorting them: score the newest only.
    scored = DOCS.alias("scored")
    rank = func.ts_rank(literal_column("scored.tsv"), _pg_query())
    return (
        select(found.c.incident_id, rank.label("score"), found.c.doc)
        .join(scored, scored.c.id == found.c.doc)
        .subquery("candidates")
    )


def _narrowed(
    stmt: Select[Any],
    incident_id: ColumnElement[int],
    visible: ColumnElement[bool],
    filters: SearchFilters,
) -> Select[Any]:
    """Add the visibility rule and the filters; join the incidents only when they need it."""
    if isinstance(visible, True_) and filters == SearchFilters():
        return stmt  # an admin's plain search: every document belongs to an incident
    stmt = stmt.join(Incident, Incident.id == incident_id).where(visible)
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


def _sqlite_matches() -> ColumnElement[bool]:
    return literal_column("search_fts").op("MATCH")(bindparam("q"))


def _pg_query() -> ColumnElement[Any]:
    return func.websearch_to_tsquery(literal_column("'english'::regconfig"), bindparam("q"))


_Quotes = dict[int, tuple[str, list[Part]]]


def _sqlite_quotes(session: Session, docs: dict[int, int], params: dict[str, Any]) -> _Quotes:
    """Return incident id -> (kind, quote) for each document of `docs` (doc id -> incident)."""
    snippet = func.snippet(literal_column("search_fts"), -1, MARK, UNMARK, "…", SNIPPET_WORDS)
    found = session.execute(
        select(FTS.c.rowid, DOCS.c.kind, snippet)
        .select_from(FTS)
        .join(DOCS, DOCS.c.id == FTS.c.rowid)
        .where(_sqlite_matches(), FTS.c.rowid.in_(list(docs))),
        params,
    )
    return {docs[doc_id]: (kind, parts(quote)) for doc_id, kind, quote in found}


def _pg_quotes(session: Session, ids: list[int], params: dict[str, Any]) -> _Quotes:
    """Return incident id -> (kind, quote) of the best matching document of each incident."""
    spaced = {"punctuation": PUNCTUATION, "spaces": " " * len(PUNCTUATION)}
    found = session.execute(_PG_QUOTES, {**params, **spaced, "ids": ids})
    return {
        incident_id: (kind, parts(restore(original, quote)))
        for incident_id, kind, original, quote in found
    }


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
    sqlite: bool,
    visible: ColumnElement[bool],
    filters: SearchFilters,
    params: dict[str, Any],
) -> tuple[int, bool]:
    """Return how many incidents match and whether the count stopped at CANDIDATES, for a
    page past the last (where the ranking query's window gave nothing)."""
    params = {**params, "floor": -1}
    candidates = _candidates(sqlite, visible, filters)
    incidents, documents = session.execute(
        select(func.count(func.distinct(candidates.c.incident_id)), func.count()), params
    ).one()
    return int(incidents), int(documents) >= CANDIDATES
