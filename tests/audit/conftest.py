"""What the audit tests share: reading the log back."""

from __future__ import annotations

from typing import Any

# The restricted incident and its people, for every audit test that asks for them by name.
from tests.api.test_visibility import breach, config, who  # noqa: F401
from warroom.audit import service as audit
from warroom.runtime import Runtime


def logged(runtime: Runtime, action: str | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Return the audit entries (oldest first) as plain dicts, optionally one action's."""
    with runtime.db.session() as session:
        rows = audit.entries(session, action=action, limit=1000, **filters)
        return [
            {
                "action": r.action,
                "actor": r.actor,
                "client": r.client,
                "target": r.target,
                "outcome": r.outcome,
                "details": r.details,
            }
            for r in reversed(rows)
        ]
