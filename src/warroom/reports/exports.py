"""Exports of the incident metrics, each on the audit log: who took which incidents away."""

from __future__ import annotations

from datetime import datetime

from warroom.audit import service as audit
from warroom.reports.csv import incidents_csv
from warroom.reports.service import Selection, incident_times
from warroom.storage.db import Database


def export_csv(
    db: Database, selection: Selection, *, actor: str, at: datetime, request: str
) -> str:
    """Return the selected incidents as CSV, and audit the export in the same transaction."""
    with db.transaction() as session:
        times = incident_times(session, selection)
        body = incidents_csv(times)
        audit.record(
            session,
            "report.export",
            actor=actor,
            at=at,
            details={"format": "csv", "incidents": len(times), "request": request},
        )
    return body
