"""Named counters (incident numbers) that stay gap-free and safe under concurrency."""

from __future__ import annotations

from sqlalchemy import Integer, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from warroom.storage.base import Base


class Counter(Base):
    """A named monotonically increasing value."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


def next_value(session: Session, name: str) -> int:
    """Increment counter `name` and return the new value (row-locked until commit).

    One upsert statement, so two first-ever callers cannot both try to create the row.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = (
        insert(Counter)
        .values(name=name, value=1)
        .on_conflict_do_update(index_elements=[Counter.name], set_={"value": Counter.value + 1})
        .returning(Counter.value)
    )
    return int(session.execute(upsert).scalar_one())


def current_value(session: Session, name: str) -> int:
    """Return the counter's value without changing it (0 if never used)."""
    value = session.execute(select(Counter.value).where(Counter.name == name)).scalar()
    return int(value or 0)
