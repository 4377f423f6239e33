"""Prometheus Alertmanager webhook (payload version 4), authenticated by a bearer token."""

from __future__ import annotations

from typing import Any

from warroom.core.errors import Invalid
from warroom.detection.schemas import AlertIn
from warroom.detection.sources.common import (
    FieldError,
    each_alert,
    field_invalid,
    get_list,
    get_str,
    match_bearer,
    parse_object,
    prometheus_alert,
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
    # Alertmanager's fingerprint is stable from firing to resolved: kept as it is. Each alert
    # carries its own status; the group's says only whether any of them still fires.
    return prometheus_alert(item, source=SOURCE, group_key=group_key, links=[])
