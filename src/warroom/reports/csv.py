"""The incident metrics as CSV: one row per incident with its durations in seconds."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from warroom.core.text import show_bidi
from warroom.reports.service import DURATIONS, IncidentTimes

HEADER = (
    "ref",
    "title",
    "severity",
    "service",
    "type",
    "status",
    "started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "time_to_detect_s",
    "time_to_acknowledge_s",
    "time_to_mitigate_s",
    "time_to_resolve_s",
    "outcome",  # "false_alarm", or empty for a real incident
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str | None) -> str:
    if value is None:
        return ""
    # Bidi controls shown first: one before `=` must neither hide the formula nor reorder it.
    value = show_bidi(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _time(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else f"{value:.3f}"


def incidents_csv(incidents: Iterable[IncidentTimes]) -> str:
    """Write the incidents as CSV (RFC 4180 quoting, CRLF line ends, a header row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for i in incidents:
        writer.writerow(
            [
                f"INC-{i.number}",
                _text(i.title),
                i.severity,
                _text(i.service),
                i.incident_type,
                i.status,
                _time(i.started_at),
                _time(i.detected_at),
                _time(i.acknowledged_at),
                _time(i.mitigated_at),
                _time(i.resolved_at),
                _time(i.closed_at),
                *(_seconds(i.seconds(name)) for name, _, _ in DURATIONS),
                i.outcome or "",
            ]
        )
    return out.getvalue()
