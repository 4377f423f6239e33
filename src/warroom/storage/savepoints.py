"""Objects a bulk INSERT … RETURNING loaded leave the session when their savepoint rolls back.

The ORM expunges what `session.add` put in a savepoint that rolls back. Objects loaded by an
`INSERT … RETURNING` of the entity it keeps, holding the values of rows that no longer
exist; SQLite may even give their ids to the next rows, and the next `RETURNING` would hand
back the stale object. The intake retries each delivery of a failed run alone, so this is
the usual path of a bad delivery, not a corner case.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

RETURNED = "savepoints.returned"  # [(savepoint or None, objects)], in session.info


def returned(session: Session, objects: Iterable[Any]) -> None:
    """Remember ORM objects an INSERT … RETURNING loaded in the current savepoint."""
    session.info.setdefault(RETURNED, []).append((session.get_nested_transaction(), list(objects)))


def within(where: Any, transaction: Any) -> bool:
    """Tell whether work done in savepoint `where` (None: the root) is undone when
    `transaction` rolls back: it is that savepoint, or one inside it, or the root."""
    while where is not None:
        if where is transaction:
            return True
        where = where.parent
    return transaction.parent is None


def install(sessions: sessionmaker[Session]) -> None:
    """Expunge, from the sessions `sessions` makes, what a rolled-back savepoint returned."""

    def rolled_back(session: Session, transaction: Any) -> None:
        kept = []
        for where, objects in session.info.get(RETURNED, []):
            if not within(where, transaction):
                kept.append((where, objects))
                continue
            for gone in objects:
                if gone in session:
                    session.expunge(gone)
        session.info[RETURNED] = kept

    def ended(session: Session, transaction: Any) -> None:
        if transaction.parent is None:  # committed or not, the objects are the rows' now
            session.info.pop(RETURNED, None)

    event.listen(sessions, "after_soft_rollback", rolled_back)
    event.listen(sessions, "after_transaction_end", ended)
