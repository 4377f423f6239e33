"""The fields people give an incident, checked against warroom.yaml: severity (by id or by
name), incident type, service, commander and priority."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warroom.core.errors import Invalid
from warroom.organisation import check_person

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


def check_severity(config: WarroomConfig, severity: str) -> str:
    """Return the severity id for `SEV-1`, `sev1`, `1` or its name (`critical`), else Invalid."""
    normalised = severity.strip().upper().replace(" ", "")
    if normalised.isdigit():
        normalised = "SEV-" + normalised
    elif normalised.startswith("SEV") and not normalised.startswith("SEV-"):
        normalised = "SEV-" + normalised[3:]
    if normalised in config.severities:
        return normalised
    by_name = {level.name.casefold(): key for key, level in config.severities.items()}
    if severity.strip().casefold() in by_name:
        return by_name[severity.strip().casefold()]
    known = ", ".join(f"{k} ({v.name})" for k, v in config.severities.items())
    raise Invalid(f"unknown severity {severity!r}; use one of {known}", {"field": "severity"})


def higher_severity(first: str, second: str) -> str:
    """Return the more severe of two severities (`SEV-1` is the most severe)."""
    return min(first, second, key=lambda severity: int(severity.removeprefix("SEV-")))


def check_fields(config: WarroomConfig, values: dict[str, Any]) -> dict[str, Any]:
    """Validate configuration-dependent fields; return them normalised."""
    out = dict(values)
    if out.get("severity") is not None:
        out["severity"] = check_severity(config, out["severity"])
    if out.get("incident_type") is not None and config.incident_type(out["incident_type"]) is None:
        known = ", ".join(t.id for t in config.incident_types)
        raise Invalid(
            f"unknown incident type {out['incident_type']!r}; use one of {known}",
            {"field": "incident_type"},
        )
    if (
        out.get("service") is not None
        and config.services
        and config.service(out["service"]) is None
    ):
        known = ", ".join(s.id for s in config.services)
        raise Invalid(
            f"unknown service {out['service']!r}; use one of {known}", {"field": "service"}
        )
    if out.get("commander") is not None:
        check_person(config.people, out["commander"], field="commander")
    if out.get("priority") is not None and out["priority"] not in config.priorities:
        known = ", ".join(config.priorities)
        raise Invalid(
            f"unknown priority {out['priority']!r}; use one of {known}", {"field": "priority"}
        )
    return out
