"""The public status page: status updates on incidents, the page, its JSON and Atom feed.

The vocabularies live here, with no heavy imports, so the CLI can check options cheaply.
"""

from __future__ import annotations

# Atlassian Statuspage's words, so the mirror there needs no translation.
UPDATE_STATUSES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = (
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
)  # in order of severity: later is worse
