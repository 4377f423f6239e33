"""Import every model so `Base.metadata` is complete (for Alembic and tests)."""

from warroom.auth.models import ApiToken, User
from warroom.incidents.models import ChecklistItem, Incident, TimelineEvent
from warroom.storage.base import Base
from warroom.storage.counters import Counter

__all__ = ["ApiToken", "Base", "ChecklistItem", "Counter", "Incident", "TimelineEvent", "User"]
