"""executemany with SQLAlchemy's own type processing but without its per-row machinery.

The engine writes thousands of rows per tick (pages, timeline events, escalation positions).
SQLAlchemy's executemany spends most of its time building each row's parameters; here the
statement is compiled once, each column's bind processor is looked up once, and the rows go
to the driver's executemany as plain tuples or dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Insert
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter


def executemany(
    connection: Connection, statement: ClauseElement, rows: Sequence[dict[str, Any]]
) -> int:
    """Run `statement` once per row (keys are the bind names); return the rows affected."""
    if not rows:
        return 0
    dialect = connection.dialect
    if dialect.name == "postgresql" and isinstance(statement, Insert):
        # SQLAlchemy batches these into multi-row INSERTs ("insertmanyvalues"): fewer round
        # trips than the driver's executemany, which sends one statement per row.
        result = connection.execute(statement, list(rows))
        return int(result.rowcount if result.rowcount is not None else -1)
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
