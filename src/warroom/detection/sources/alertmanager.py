"""Prometheus Alertmanager webhook (payload version 4), authenticated by a bearer token."""

from __future__ import annotations

from typing import Any

from warroom.core.errors import Invalid
from warroom.detection.schemas import AlertIn
from warroom.detection.sources.common import (
    FieldError,
    cap_raw,
    each_alert,
    field_invalid,
    get_list,
    get_status,
    get_str,
    get_str_map,
    get_time,
    match_bearer,
    parse_object,
    require_str,
)

SOURCE = "alertmanager"
VERSION = "4"


def check_bearer(authorization_header: str | None, tokens: list[str]) -> int | None:
    """Return the index of the token in `Authorization: Bearer …`, comparing with every token."""
    return match_bearer(authorization_header, tokens)


def parse(body: bytes) -> list[AlertIn]:
    """Turn an Alertmanager webhook body into alerts; one bad alert rejects the batch."""
    payload = parse_object(body)
    version = payload.get("version")
    if version != VERSION:
        raise Invalid(
            f"unsupported Alertmanager webhook version {version!r}; expected {VERSION!r}",
            details={"field": "version"},
        )
    try:
        items = get_list(payload, "alerts")
        group_key = get_str(payload, "groupKey")
    except FieldError as exc:
        raise field_invalid(exc) from None
    return each_alert(items, lambda item: _alert(item, group_key))


def _alert(item: dict[str, Any], group_key: str | None) -> AlertIn:
    labels = get_str_map(item, "labels")
    annotations = get_str_map(item, "annotations")
    links = []
    if runbook := annotations.get("runbook_url"):
        links.append({"title": "Runbook", "url": runbook})
    return AlertIn(
        source=SOURCE,
        # Alertmanager's fingerprint is stable from firing to resolved: kept as it is.
        fingerprint=require_str(item, "fingerprint"),
        # Each alert carries its own status; the group's says only whether any still fires.
        status=get_status(item),
        labels=labels,
        annotations=annotations,
        title=annotations.get("summary") or labels.get("alertname"),
        summary=annotations.get("description"),
        severity=labels.get("severity"),
        starts_at=get_time(item, "startsAt", required=True),
        ends_at=get_time(item, "endsAt"),
        generator_url=get_str(item, "generatorURL"),
        links=links,
        group_key=group_key,
        raw=cap_raw(item),
    )
