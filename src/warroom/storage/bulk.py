"""executemany with SQLAlchemy's own type processing but without its per-row machinery.

The engine writes thousands of rows per tick (pages, timeline events, escalation positions).
SQLAlchemy's executemany spends most of its time building each row's parameters; here the
statement is compiled once, each column's bind processor is looked up once, and the rows go
to the driver's executemany as plain tuples or dicts. On PostgreSQL, `insert` sends one
statement per batch instead: each column as one array, expanded by `unnest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, CursorResult, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter


def executemany(
    connection: Connection, statement: ClauseElement, rows: Sequence[dict[str, Any]]
) -> int:
    """Run `statement` once per row (keys are the bind names); return the rows affected."""
    if not rows:
        return 0
    dialect = connection.dialect
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    binds: dict[str, BindParameter[Any]] = compiled.binds
    names = list(compiled.positiontup or []) if compiled.positional else list(binds)
    fixed = {name: binds[name].value for name in names if name not in rows[0]}
    if fixed:  # literals of the statement itself
        rows = [{**fixed, **row} for row in rows]
    get = itemgetter(*names)
    processors = [
        (index, processor)
        for index, name in enumerate(names)
        if (processor := binds[name].type._cached_bind_processor(dialect)) is not None
    ]
    # Rows written together share most timestamps (the tick's `now`, the step's due time):
    # convert each distinct hashable value once.
    seen: list[dict[Any, Any]] = [{} for _ in processors]
    params: list[Any] = []
    for row in rows:
        values = list(get(row)) if len(names) > 1 else [get(row)]
        for (index, processor), memo in zip(processors, seen, strict=True):
            value = values[index]
            if value is None:
                continue
            if isinstance(value, datetime):
                converted = memo.get(value)
                if converted is None:
                    converted = memo[value] = processor(value)
                values[index] = converted
            else:
                values[index] = processor(value)
        params.append(
            tuple(values) if compiled.positional else dict(zip(names, values, strict=True))
        )
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(str(compiled), params)
        return int(cursor.rowcount if cursor.rowcount is not None else -1)
    finally:
        cursor.close()


def insert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] | None = None,
) -> int:
    """Insert `rows` (all with the same keys); return how many were written.

    `skip_conflicts_on` names a unique key: a row that collides on it is left out.
    """
    if not rows:
        return 0
    if connection.dialect.name == "postgresql":
        result = unnest_insert(connection, table, rows, skip_conflicts_on=skip_conflicts_on)
        return int(result.rowcount)
    statement = sqlite.insert(table)
    if skip_conflicts_on is not None:
        statement = statement.on_conflict_do_nothing(index_elements=list(skip_conflicts_on))
    return executemany(connection, statement, rows)


def unnest_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: Sequence[str] | None = None,
    returning: Sequence[str] = (),
) -> CursorResult[Any]:
    """PostgreSQL: insert `rows` in one statement, one array parameter per column.

    A multi-row VALUES or the driver's pipelined executemany cost a parameter (and on the
    client, a conversion) per value; arrays cost one per column, whatever the row count.
    """
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = list(rows[0])
    params: dict[str, list[Any]] = {}
    casts: list[str] = []
    for index, name in enumerate(names):
        column = table.c[name]
        processor = column.type._cached_bind_processor(dialect)
        values = [row[name] for row in rows]
        if processor is not None:
            values = _converted(values, processor)
        params[f"p{index}"] = values
        casts.append(f"%(p{index})b::{column.type.compile(dialect)}[]")
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"SELECT * FROM unnest({', '.join(casts)})"
    )
    if skip_conflicts_on is not None:
        sql += f" ON CONFLICT ({', '.join(quote(n) for n in skip_conflicts_on)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote(n) for n in returning)}"
    return connection.exec_driver_sql(sql, params)


def _converted(values: list[Any], processor: Any) -> list[Any]:
    """Run a column's bind processor over its values, each distinct timestamp once."""
    memo: dict[datetime, Any] = {}  # rows written together share most timestamps
    out: list[Any] = []
    for value in values:
        if value is None:
            out.append(None)
        elif isinstance(value, datetime):
            converted = memo.get(value)
            if converted is None:
                converted = memo[value] = processor(value)
            out.append(converted)
        else:
            out.append(processor(value))
    return out
