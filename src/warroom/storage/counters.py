"""Named counters (incident numbers) that stay gap-free and safe under concurrency."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Integer, String, Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from warroom.storage.base import Base


class Counter(Base):
    """A named monotonically increasing value."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


_UPSERTS: dict[str, Any] = {}  # dialect name -> the upsert statement


def next_value(session: Session, name: str) -> int:
    """Increment counter `name` and return the new value (row-locked until commit).

    One upsert statement, so two first-ever callers cannot both try to create the row.
    """
    return next_values(session, name, 1).start


def next_values(session: Session, name: str, count: int) -> range:
    """Take the counter's next `count` values at once: one statement, however many."""
    dialect = session.get_bind().dialect.name
    upsert = _UPSERTS.get(dialect)
    if upsert is None:  # built once a dialect: constructing it costs more than running it
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = cast(Table, Counter.__table__)  # Core: the ORM's bulk insert costs more
        upsert = _UPSERTS[dialect] = (
            insert(table)
            .values(name=bindparam("name"), value=bindparam("count"))
            .on_conflict_do_update(
                index_elements=[table.c.name], set_={"value": table.c.value + bindparam("count")}
            )
            .returning(table.c.value)
        )
    last = int(session.execute(upsert, {"name": name, "count": count}).scalar_one())
    return range(last - count + 1, last + 1)


def current_value(session: Session, name: str) -> int:
    """Return the counter's value without changing it (0 if never used)."""
    value = session.execute(select(Counter.value).where(Counter.name == name)).scalar()
    return int(value or 0)
