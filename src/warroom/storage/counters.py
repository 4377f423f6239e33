"""Named counters (incident numbers) that stay gap-free and safe under concurrency."""

from __future__ import annotations

from sqlalchemy import Integer, String, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from warroom.storage.base import Base


class Counter(Base):
    """A named monotonically increasing value."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


def next_value(session: Session, name: str) -> int:
    """Increment counter `name` and return the new value (row-locked until commit)."""
    stmt = update(Counter).where(Counter.name == name).values(value=Counter.value + 1)
    new_value = session.execute(stmt.returning(Counter.value)).scalar_one_or_none()
    if new_value is not None:
        return int(new_value)
    session.execute(insert(Counter).values(name=name, value=1))
    return 1


def current_value(session: Session, name: str) -> int:
    """Return the counter's value without changing it (0 if never used)."""
    value = session.execute(select(Counter.value).where(Counter.name == name)).scalar()
    return int(value or 0)
