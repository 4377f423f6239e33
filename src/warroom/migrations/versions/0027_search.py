"""search: the text of incidents and what belongs to them, indexed by triggers

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05

The database writes the index itself, in the transaction that writes the row: an insert,
update or delete of an indexed row fires a trigger that rewrites that row's document. No
service, bulk insert or copy can forget it (docs/adr/016-search-index.md).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


@dataclass(frozen=True)
class Source:
    """A table whose rows become documents, as SQL over the row `NEW`."""

    table: str
    kind: str
    incident: str
    body: str  # SQLite
    pg_body: str
    columns: tuple[str, ...]  # an update of one of these rewrites the document
    at: str  # when the row was written, for the backfill's order
    heading: str = "''"
    when: str = "1 = 1"


_PM_JSON = (
    "five_whys",
    "fishbone",
    "contributing_factors",
    "went_well",
    "went_poorly",
    "got_lucky",
)
SOURCES = (
    Source(
        "incidents",
        "incident",
        incident="NEW.id",
        heading="NEW.title",
        body="COALESCE(NEW.summary, '')",
        pg_body="COALESCE(NEW.summary, '')",
        columns=("title", "summary"),
        at="NEW.detected_at",
    ),
    Source(
        "timeline_events",
        "note",
        incident="NEW.incident_id",
        body="NEW.text",
        pg_body="NEW.text",
        columns=("kind", "text"),
        at="NEW.at",
        when="NEW.kind = 'note'",
    ),
    Source(
        "status_updates",
        "status_update",
        incident="NEW.incident_id",
        body="COALESCE(NEW.public_title || ' ', '') || NEW.body",
        pg_body="COALESCE(NEW.public_title || ' ', '') || NEW.body",
        columns=("public_title", "body"),
        at="NEW.at",
    ),
    Source(
        "postmortems",
        "postmortem",
        incident="NEW.incident_id",
        # Every string in the 5 Whys, the fishbone's causes and the lists, after the prose.
        body=" || ' ' || ".join(
            ["NEW.summary", "NEW.impact", "NEW.root_cause"]
            + [
                f"COALESCE((SELECT group_concat(value, ' ') FROM json_tree(NEW.{c}) "
                "WHERE type = 'text'), '')"
                for c in _PM_JSON
            ]
        ),
        pg_body="concat_ws(' ', NEW.summary, NEW.impact, NEW.root_cause, "
        + ", ".join(f"search_json_text(NEW.{c})" for c in _PM_JSON)
        + ")",
        columns=("summary", "impact", "root_cause", *_PM_JSON),
        at="NEW.created_at",
    ),
    Source(
        "postmortem_action_items",
        "action_item",
        incident="(SELECT incident_id FROM postmortems WHERE id = NEW.postmortem_id)",
        body="NEW.title",
        pg_body="NEW.title",
        columns=("postmortem_id", "title"),
        at="NEW.created_at",
    ),
    Source(
        "alerts",
        "alert",
        incident="NEW.incident_id",
        body="NEW.title || ' ' || COALESCE((SELECT group_concat(key || '=' || value, ' ') "
        "FROM json_each(NEW.labels)), '')",
        pg_body="NEW.title || ' ' || COALESCE((SELECT string_agg(key || '=' || value, ' ') "
        "FROM json_each_text(NEW.labels)), '')",
        columns=("incident_id", "title", "labels"),
        at="NEW.received_at",
        when="NEW.incident_id IS NOT NULL",
    ),
)
COLUMNS = "incident_id, kind, source_id, heading, body"


def _select(source: Source, body: str, chr_: str) -> str:
    heading, body = _unmarked(source.heading, chr_), _unmarked(body, chr_)
    return (
        f"SELECT {source.incident} AS incident_id, '{source.kind}' AS kind, "
        f"NEW.id AS source_id, {heading} AS heading, {body} AS body"
    )


def _unmarked(expression: str, chr_: str) -> str:
    # Without the two characters that mark matched words in quotes (search/quotes.py), a
    # text cannot mark words of its own.
    return f"replace(replace({expression}, {chr_}(57344), ''), {chr_}(57345), '')"


def _forget(source: Source) -> str:
    return f"DELETE FROM search_documents WHERE kind = '{source.kind}' AND source_id = OLD.id"


def _sqlite(source: Source) -> list[str]:
    write = f"INSERT INTO search_documents ({COLUMNS}) {_select(source, source.body, 'char')}"
    name, table = f"search_{source.kind}", source.table
    statements = [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} FOR EACH ROW "
        f"WHEN {source.when} BEGIN {write}; END",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(source.columns)} ON {table} "
        f"FOR EACH ROW BEGIN {_forget(source)}; {write} WHERE {source.when}; END",
    ]
    if source.kind != "incident":  # an incident's documents go with it (ON DELETE CASCADE)
        statements.append(
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} FOR EACH ROW "
            f"BEGIN {_forget(source)}; END"
        )
    return statements


def _postgresql(source: Source) -> list[str]:
    write = f"INSERT INTO search_documents ({COLUMNS}) {_select(source, source.pg_body, 'chr')}"
    name, table = f"search_{source.kind}", source.table
    statements = [
        f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP <> 'INSERT' THEN {_forget(source)}; END IF;
            IF TG_OP <> 'DELETE' THEN {write} WHERE {source.when}; END IF;
            RETURN NULL;
        END
        $fn$""",
        # The condition on the trigger spares the call for rows never indexed (the
        # escalation tick's thousands of paging events).
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} FOR EACH ROW "
        f"WHEN ({source.when}) EXECUTE FUNCTION {name}()",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {', '.join(source.columns)} ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]
    if source.kind != "incident":
        statements.append(
            f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} FOR EACH ROW "
            f"EXECUTE FUNCTION {name}()"
        )
    return statements


SQLITE_FTS = [
    # External content: the text is kept once, in search_documents; porter stems English
    # ("failing" finds "failed") as PostgreSQL's english configuration does.
    "CREATE VIRTUAL TABLE search_fts USING fts5(heading, body, content='search_documents', "
    "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
    # A word in an incident's title weighs four times one elsewhere.
    "INSERT INTO search_fts(search_fts, rank) VALUES ('rank', 'bm25(4.0, 1.0)')",
    "CREATE TRIGGER search_fts_insert AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, heading, body) VALUES (NEW.id, NEW.heading, NEW.body); END",
    "CREATE TRIGGER search_fts_delete AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, heading, body) "
    "VALUES ('delete', OLD.id, OLD.heading, OLD.body); END",
    "CREATE TRIGGER search_fts_update AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, heading, body) "
    "VALUES ('delete', OLD.id, OLD.heading, OLD.body); "
    "INSERT INTO search_fts(rowid, heading, body) VALUES (NEW.id, NEW.heading, NEW.body); END",
]
# ASCII punctuation, read as spaces on PostgreSQL (one for one: the text keeps its length).
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_SPACED = f"'{PUNCTUATION.replace(chr(39), chr(39) * 2)}', '{' ' * len(PUNCTUATION)}'"
POSTGRESQL_FTS = [
    # The title as weight A, the rest as B: ts_rank counts a title word 2.5 times.
    # Punctuation becomes spaces first, as FTS5 reads it: PostgreSQL's parser would keep a
    # host or path (db01.prod:9100) as one token, read SUP-123 as "SUP" and "-123", and
    # take `<…>` for a tag and drop the text in it.
    "ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
    f"(setweight(to_tsvector('english'::regconfig, translate(heading, {_SPACED})), 'A') || "
    f"setweight(to_tsvector('english'::regconfig, translate(body, {_SPACED})), 'B')) STORED",
    "CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)",
    # Every string of a JSON value (the postmortem's lists), space-separated.
    """CREATE FUNCTION search_json_text(value json) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
        SELECT string_agg(v #>> '{}', ' ')
        FROM jsonb_path_query(value::jsonb, 'strict $.** ? (@.type() == "string")') AS v
    $fn$""",
]


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("heading", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_search_documents_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
        sa.UniqueConstraint("kind", "source_id", name="uq_search_documents_kind_source_id"),
    )
    op.create_index("ix_search_documents_incident_id", "search_documents", ["incident_id"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_FTS if sqlite else POSTGRESQL_FTS:
        op.execute(statement)
    op.execute(_backfill(sqlite))
    for source in SOURCES:
        for statement in _sqlite(source) if sqlite else _postgresql(source):
            op.execute(statement)


def _backfill(sqlite: bool) -> str:
    """Return the statement that indexes what is stored, oldest first.

    Each source is the trigger's own SELECT over the table's rows named NEW. The documents
    are written in the order the rows were, as the triggers would have: search takes the
    newest matches first; incidents' own documents come in incident order, each before the
    rest of its incident's (search/service.py bounds `since` by that). An incident's time is
    the latest detection among it and the incidents before it, so that both hold.
    """
    chr_, latest = ("char", "max") if sqlite else ("chr", "GREATEST")
    parts = []
    for source in SOURCES:
        body = source.body if sqlite else source.pg_body
        written = "envelope.t"
        if source.kind != "incident":
            written = f"{latest}({source.at}, envelope.t)"
        later = 0 if source.kind == "incident" else 1
        parts.append(
            f"{_select(source, body, chr_)}, {written} AS written, {later} AS later "
            f"FROM {source.table} AS NEW JOIN envelope ON envelope.id = {source.incident} "
            f"WHERE {source.when}"
        )
    union = " UNION ALL ".join(parts)
    return (
        "WITH envelope AS (SELECT id, max(detected_at) OVER (ORDER BY id) AS t FROM incidents) "
        f"INSERT INTO search_documents ({COLUMNS}) SELECT {COLUMNS} FROM ({union}) AS rows "
        "ORDER BY written, later, source_id"
    )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for source in SOURCES:
        for event in ("insert", "update", "delete"):
            name = f"search_{source.kind}_{event}"
            op.execute(
                f"DROP TRIGGER IF EXISTS {name}"
                if sqlite
                else f"DROP TRIGGER IF EXISTS {name} ON {source.table}"
            )
        if not sqlite:
            op.execute(f"DROP FUNCTION IF EXISTS search_{source.kind}()")
    if sqlite:
        op.execute("DROP TABLE search_fts")
    else:
        op.execute("DROP FUNCTION IF EXISTS search_json_text(json)")
    op.drop_index("ix_search_documents_incident_id", table_name="search_documents")
    op.drop_table("search_documents")
