"""Who did something to an incident: the value every service and timeline event carries."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who did something, and through which channel (api, cli, web, demo, alertmanager…)."""

    name: str | None
    source: str
    # The signed-in user's role where one is known (viewer, responder, admin); None for the
    # engine, intake and other system actors. Rules that only an admin may bend read it.
    role: str | None = None
