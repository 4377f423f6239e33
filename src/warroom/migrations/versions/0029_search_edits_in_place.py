"""search: an edit rewrites its document in place, keeping the document's id

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-05

Migration 0027's update triggers deleted a document and wrote it again, under a new id. On
SQLite, search bounds a `since` filter by the id of the first matching incident's own
document (search/service.py `_lowest`): renaming that incident moved its document to the
top, and the incidents after it fell below the bound. PostgreSQL filters by the incident
itself, but both take the newest documents first: an edit is not a new place to look.
"""

import importlib
from collections.abc import Sequence
from typing import Any

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_search = importlib.import_module("warroom.migrations.versions.0027_search")


def sqlite_triggers(source: Any) -> list[str]:
    """Return the SQLite triggers that index `source` (a 0027 Source) as of this revision."""
    update = f"search_{source.kind}_update "
    return [s for s in _search._sqlite(source) if update not in s] + [_in_place(source)]


def _in_place(source: Any) -> str:
    """Return the update trigger that keeps a document's id while its row stays indexed."""
    mine = f"kind = '{source.kind}' AND source_id = NEW.id"
    write = (
        f"INSERT INTO search_documents ({_search.COLUMNS}) "
        f"{_search._select(source, source.body, 'char')}"
    )
    return (
        f"CREATE TRIGGER search_{source.kind}_update AFTER UPDATE OF "
        f"{', '.join(source.columns)} ON {source.table} FOR EACH ROW BEGIN "
        # No longer indexed (a note turned into another kind): forget it.
        f"DELETE FROM search_documents WHERE {mine} AND NOT ({source.when}); "
        f"UPDATE search_documents SET incident_id = {source.incident}, "
        f"heading = {_search._unmarked(source.heading, 'char')}, "
        f"body = {_search._unmarked(source.body, 'char')} WHERE {mine}; "
        # Indexed from now on (an alert given its incident): a new document.
        f"{write} WHERE ({source.when}) "
        f"AND NOT EXISTS (SELECT 1 FROM search_documents WHERE {mine}); "
        "END"
    )


def _pg_in_place(source: Any) -> str:
    """Return the PostgreSQL trigger function that updates a document in place."""
    mine = f"kind = '{source.kind}' AND source_id = NEW.id"
    write = (
        f"INSERT INTO search_documents ({_search.COLUMNS}) "
        f"{_search._select(source, source.pg_body, 'chr')}"
    )
    return f"""CREATE OR REPLACE FUNCTION search_{source.kind}() RETURNS trigger
        LANGUAGE plpgsql AS $fn$
        BEGIN
            IF TG_OP = 'DELETE' THEN {_search._forget(source)}; RETURN NULL; END IF;
            IF TG_OP = 'UPDATE' THEN
                DELETE FROM search_documents WHERE {mine} AND NOT ({source.when});
                UPDATE search_documents SET incident_id = {source.incident},
                    heading = {_search._unmarked(source.heading, "chr")},
                    body = {_search._unmarked(source.pg_body, "chr")}
                WHERE {mine};
                IF FOUND THEN RETURN NULL; END IF;
            END IF;
            {write} WHERE {source.when};
            RETURN NULL;
        END
        $fn$"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for source in _search.SOURCES:
            op.execute(_pg_in_place(source))
        return
    for source in _search.SOURCES:
        op.execute(f"DROP TRIGGER IF EXISTS search_{source.kind}_update")
        op.execute(_in_place(source))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for source in _search.SOURCES:
            function = _search._postgresql(source)[0]
            op.execute(function.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
        return
    for source in _search.SOURCES:
        update = f"search_{source.kind}_update "
        op.execute(f"DROP TRIGGER IF EXISTS {update}")
        op.execute(next(s for s in _search._sqlite(source) if update in s))
