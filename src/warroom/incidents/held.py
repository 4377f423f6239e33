"""A viewer's report: opened at its type's default severity, paging held until triage.

Viewers may report what they see (the runbook's Example 2 starts with a user's report), but a
report must not page the on-call engineer or e-mail executives on a viewer's word alone: the
severity they suggest is kept, and a responder's triage decides, and releases the paging.
"""

from __future__ import annotations

from dataclasses import dataclass

from warroom.incidents.models import Incident


@dataclass(frozen=True)
class Held:
    """What is kept of a viewer's report: the severity they suggested, if any."""

    suggested_severity: str | None = None


def held_text(incident: Incident) -> str:
    """Return what the declared event adds for a held report ('' for any other incident)."""
    if not incident.paging_held:
        return ""
    suggested = f"; suggested {incident.suggested_severity}" if incident.suggested_severity else ""
    return f" (a viewer's report{suggested}: nobody is paged until a responder triages it)"


def release(incident: Incident) -> bool:
    """Release a held report's paging (its triage); tell whether it was held."""
    if not incident.paging_held:
        return False
    incident.paging_held = False
    return True


def notice(incident: Incident) -> str | None:
    """Say, in plain words, that a report waits for a responder (None when it does not)."""
    if not incident.paging_held or incident.status != "detected":
        return None
    suggested = f", suggested {incident.suggested_severity}" if incident.suggested_severity else ""
    return (
        f"Reported by a viewer ({incident.severity}, the type's default{suggested}): nobody is "
        f"paged until a responder triages it (warroom incident triage {incident.ref} "
        "--severity …)"
    )
