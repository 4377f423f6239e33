"""Copy a whole installation from one database to another (SQLite to PostgreSQL), verified.

Every table of the models (but the search index, which the target's triggers write), in
foreign-key order, with its ids, in one transaction on the
target: a copy that fails leaves the target as empty as it was. The rows the migrations
seed (the audit head, the acknowledge links' key) take the source's values. Afterwards each
table is compared row by row (a digest of every row, in key order) and PostgreSQL's id
sequences are moved past the copied ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, select, text, update

from warroom.core.errors import Conflict
from warroom.storage.base import Base
from warroom.storage.db import Database

CHUNK = 1000
SEEDED = frozenset({"audit_head", "signing_keys"})  # rows the migrations make on the target
# Rows the target's triggers write as the rows they index arrive (migration 0027).
DERIVED = frozenset({"search_documents"})
Progress = Callable[[str, int], None]  # table, rows copied


@dataclass
class Copied:
    """How many rows each table holds on both sides after the copy."""

    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """Return every row copied."""
        return sum(self.tables.values())


def copy(source: Database, target: Database, *, progress: Progress) -> Copied:
    """Copy every row of `source` into the empty, migrated `target`; verify; return counts."""
    tables = [t for t in Base.metadata.sorted_tables if t.name not in DERIVED]
    done = Copied()
    with source.read_engine.connect() as reading, target.write_engine.begin() as writing:
        # One read transaction: the copy is of one moment, even if warroom still writes.
        reading.begin()
        _check_empty(writing, tables)
        for table in tables:
            done.tables[table.name] = _copy_table(reading, writing, table, progress)
        if writing.dialect.name == "postgresql":
            _move_sequences(writing, tables)
        for table in tables:
            _compare(reading, writing, table)
        reading.rollback()
    return done


def _check_empty(writing: Connection, tables: list[Table]) -> None:
    """Refuse a target that already holds data (a copy never merges)."""
    for table in tables:
        if table.name in SEEDED:
            continue
        count = writing.execute(select(func.count()).select_from(table)).scalar() or 0
        if count:
            raise Conflict(
                f"the target database is not empty ({count} rows in {table.name}): "
                "copy into a new, empty database"
            )


def _copy_table(reading: Connection, writing: Connection, table: Table, progress: Progress) -> int:
    """Copy one table in chunks, in key order; return how many rows."""
    rows = reading.execute(select(table).order_by(*table.primary_key.columns))
    copied = 0
    if table.name == "audit_head":  # one row, made by the migration: move it to the source's
        for row in rows.mappings():
            values = {k: v for k, v in row.items() if k != "id"}
            writing.execute(update(table).where(table.c.id == row["id"]).values(**values))
            copied += 1
        return copied
    if table.name == "signing_keys":
        writing.execute(delete(table))  # the source's key: its links keep working
    while chunk := rows.fetchmany(CHUNK):
        writing.execute(insert(table), [dict(row._mapping) for row in chunk])
        copied += len(chunk)
        progress(table.name, copied)
    return copied


def _move_sequences(writing: Connection, tables: list[Table]) -> None:
    """Set each serial id's sequence past the largest copied id (new rows must not collide)."""
    for table in tables:
        for column in table.primary_key.columns:
            try:
                numeric = column.type.python_type is int
            except NotImplementedError:
                numeric = False
            if not numeric:
                continue
            sequence = writing.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if sequence:
                writing.execute(
                    text(
                        f'SELECT setval(:s, COALESCE((SELECT MAX("{column.name}") '
                        f'FROM "{table.name}"), 1), '
                        f'(SELECT MAX("{column.name}") FROM "{table.name}") IS NOT NULL)'
                    ),
                    {"s": sequence},
                )


def _compare(reading: Connection, writing: Connection, table: Table) -> None:
    """Raise Conflict naming the table and first row that differ between the two sides."""
    order = list(table.primary_key.columns)
    left = reading.execute(select(table).order_by(*order))
    right = writing.execute(select(table).order_by(*order))
    position = 0
    while True:
        a, b = left.fetchmany(CHUNK), right.fetchmany(CHUNK)
        if not a and not b:
            return
        for one, other in zip(a, b, strict=False):
            position += 1
            if _digest(one._mapping) != _digest(other._mapping):
                key = ", ".join(f"{c.name}={one._mapping[c.name]}" for c in order)
                raise Conflict(f"the copy of {table.name} differs at row {position} ({key})")
        if len(a) != len(b):
            raise Conflict(f"the copy of {table.name} has a different number of rows")


def _digest(row: Any) -> str:
    """Return a digest of a row's values that does not depend on the database that held them."""
    return hashlib.sha256(
        json.dumps({k: _plain(v) for k, v in row.items()}, sort_keys=True, default=str).encode()
    ).hexdigest()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (bytes, memoryview)):
        return hashlib.sha256(bytes(value)).hexdigest()
    return value
