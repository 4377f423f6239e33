"""The web form `POST /api/v1/reports`: a person reports an incident."""

from __future__ import annotations

import uuid

from pydantic import ConfigDict, Field, ValidationError

from warroom.core.errors import Invalid
from warroom.core.validation import humane
from warroom.detection.schemas import AlertIn
from warroom.detection.sources.common import parse_object
from warroom.incidents.schemas import Input

SOURCE = "web"


class ReportIn(Input):
    """What the report form sends (unknown fields and NUL characters refused)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=200)
    summary: str | None = Field(default=None, max_length=20_000)
    severity: str | None = Field(default=None, max_length=50)
    service: str | None = Field(default=None, max_length=100)
    reporter: str | None = Field(default=None, max_length=200)


def to_alert(report: ReportIn, *, reporter: str | None = None, held: bool = False) -> AlertIn:
    """Turn a report into an AlertIn; `reporter` (the signed-in user) wins over the form's.

    `held`: a viewer's report, opened at its type's default severity, paging nobody until a
    responder triages it (incidents/held.py).
    """
    return AlertIn(
        source=SOURCE,
        fingerprint=f"web:{uuid.uuid4().hex}",  # every report is its own incident
        status="firing",
        labels={"service": report.service} if report.service else {},
        title=report.title,
        summary=report.summary or None,
        severity=report.severity or None,
        reporter=reporter or report.reporter or None,
        kind="report",
        held=held,
        raw=report.model_dump(exclude_none=True),
    )


def parse(body: bytes, *, reporter: str | None = None) -> AlertIn:
    """Validate a raw JSON report body and turn it into an AlertIn."""
    try:
        report = ReportIn.model_validate(parse_object(body))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        message = "unknown field" if error["type"] == "extra_forbidden" else humane(error)
        raise Invalid(f"{field}: {message}", details={"field": field}) from None
    return to_alert(report, reporter=reporter)
