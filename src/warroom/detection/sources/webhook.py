"""The generic JSON webhook: warroom's own alert format, authenticated by a bearer token."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from warroom.core.errors import Invalid
from warroom.core.validation import humane
from warroom.detection.schemas import AlertIn
from warroom.detection.sources.common import (
    BatchError,
    cap_raw,
    json_type,
    match_bearer,
    parse_json,
    parse_time,
)

SOURCE = "webhook"


def _time(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("time_type", "must be an RFC 3339 time string")
    try:
        return parse_time(value)
    except ValueError:
        raise PydanticCustomError("time", "is not a valid RFC 3339 time") from None


Time = Annotated[datetime | None, BeforeValidator(_time)]


class LinkIn(BaseModel):
    """A link shown with the alert."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    url: str = Field(pattern=r"^https?://\S+$", max_length=2000)


class WebhookAlert(BaseModel):
    """One alert of the generic webhook."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    summary: str | None = Field(default=None, max_length=20_000)
    severity: str | None = Field(default=None, max_length=50)
    dedup_key: str = Field(min_length=1, max_length=200)
    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, str] = Field(default_factory=dict, max_length=100)
    links: list[LinkIn] = Field(default_factory=list, max_length=20)
    starts_at: Time = None
    ends_at: Time = None


def check_bearer(authorization_header: str | None, tokens: list[str]) -> int | None:
    """Return the index of the token in `Authorization: Bearer …`, comparing with every token."""
    return match_bearer(authorization_header, tokens)


def parse(body: bytes) -> list[AlertIn]:
    """Turn one alert, an array of alerts or `{"alerts": [...]}` into alerts, all or none."""
    payload = parse_json(body)
    if isinstance(payload, dict) and "alerts" in payload:
        unknown = sorted(set(payload) - {"alerts"})
        if unknown:
            raise Invalid(f"unknown field {unknown[0]!r} next to 'alerts'")
        items = payload["alerts"]
        if not isinstance(items, list):
            raise Invalid(f"alerts must be an array, not {json_type(items)}")
        return _batch(items, path="alerts")
    if isinstance(payload, list):
        return _batch(payload, path="")
    if isinstance(payload, dict):
        try:
            return [_alert(payload)]
        except ValidationError as exc:
            field, message = _first_error(exc)
            raise Invalid(f"{field}: {message}", details={"field": field}) from None
    raise Invalid(f"expected a JSON object or array, got {json_type(payload)}")


def _batch(items: list[Any], *, path: str) -> list[AlertIn]:
    alerts: list[AlertIn] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BatchError(index, f"expected an object, got {json_type(item)}", path=path)
        try:
            alerts.append(_alert(item))
        except ValidationError as exc:
            field, message = _first_error(exc)
            raise BatchError(index, message, path=path, field=field) from None
    return alerts


def _alert(item: dict[str, Any]) -> AlertIn:
    alert = WebhookAlert.model_validate(item)
    return AlertIn(
        source=SOURCE,
        fingerprint=alert.dedup_key,
        status=alert.status,
        labels=alert.labels,
        title=alert.title,
        summary=alert.summary,
        severity=alert.severity,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        links=[{"title": link.title, "url": link.url} for link in alert.links],
        raw=cap_raw(item),
    )


def _first_error(exc: ValidationError) -> tuple[str, str]:
    error = exc.errors(include_url=False)[0]
    field = ""
    for part in error["loc"]:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    if error["type"] == "extra_forbidden":
        return field, "unknown field"
    return field, humane(error)
