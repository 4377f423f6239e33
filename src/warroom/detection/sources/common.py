"""Helpers shared by the intake sources: JSON, times, constant-time checks, batch errors."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from warroom.core.errors import Invalid
from warroom.detection.schemas import RAW_LIMIT, ZERO_TIME_PREFIX, AlertIn, AlertStatus

# RFC 3339 with any number of fraction digits (Go writes up to 9) and a `Z` or ±hh:mm offset;
# Jira writes the offset without the colon (`+0000`), so the colon is optional.
_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))"
)
_RAW_STRING_LIMIT = 512  # characters kept of each string when an oversized raw alert is cut
_RAW_LIST_LIMIT = 20  # items kept of each list when an oversized raw alert is cut


class BatchError(Invalid):
    """One item of a batch is not acceptable; the whole batch is rejected."""

    def __init__(
        self, index: int, message: str, *, path: str = "alerts", field: str | None = None
    ) -> None:
        where = f"{path}[{index}]" + (f".{field}" if field else "")
        super().__init__(f"{where}: {message}", details={"index": index, "field": field})
        self.index = index
        self.field = field


class FieldError(ValueError):
    """One field of an item is wrong; the caller adds where the item sits."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field


def parse_json(body: bytes) -> Any:
    """Parse a JSON body, raising `Invalid` with the parser's reason when it is malformed."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"malformed JSON: {exc}") from None


def parse_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON body that must be an object."""
    value = parse_json(body)
    if not isinstance(value, dict):
        raise Invalid(f"expected a JSON object, got {json_type(value)}")
    return value


def json_type(value: object) -> str:
    """Name the JSON type of a parsed value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_time(value: str) -> datetime | None:
    """Parse an RFC 3339 time to aware UTC; Go's zero time (`0001-01-01…`) means None."""
    if value.startswith(ZERO_TIME_PREFIX):
        return None
    match = _TIME.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {value[:40]!r}")
    year, month, day, hour, minute, second, fraction, zulu, sign, oh, om = match.groups()
    tz: timezone = UTC
    if not zulu:
        offset = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "0").ljust(6, "0")[:6])  # nanoseconds are cut to microseconds
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz
        )
    except ValueError as exc:
        raise ValueError(f"not a valid time: {value[:40]!r} ({exc})") from None
    return parsed.astimezone(UTC)


def get_object(
    item: Mapping[str, Any], key: str, *, required: bool = False, name: str | None = None
) -> dict[str, Any]:
    """Return `item[key]` as an object; absent or null gives {} unless required."""
    value = item.get(key)
    if value is None:
        if required:
            raise FieldError(name or key, "is required")
        return {}
    if not isinstance(value, dict):
        raise FieldError(name or key, f"must be an object, not {json_type(value)}")
    return value


def get_str(
    item: Mapping[str, Any], key: str, *, required: bool = False, name: str | None = None
) -> str | None:
    """Return `item[key]` as a string; absent, null or empty gives None unless required."""
    value = item.get(key)
    label = name or key
    if value is None or value == "":
        if required:
            raise FieldError(label, "is required")
        return None
    if not isinstance(value, str):
        raise FieldError(label, f"must be a string, not {json_type(value)}")
    return value


def require_str(item: Mapping[str, Any], key: str, *, name: str | None = None) -> str:
    """Return the non-empty string `item[key]`."""
    value = get_str(item, key, required=True, name=name)
    assert value is not None  # get_str raised otherwise
    return value


def get_str_map(item: Mapping[str, Any], key: str) -> dict[str, str]:
    """Return `item[key]` as a string→string map (labels, annotations); absent gives {}."""
    value = get_object(item, key)
    for name, entry in value.items():
        if not isinstance(entry, str):
            raise FieldError(f"{key}.{name}", f"must be a string, not {json_type(entry)}")
    return value


def get_time(
    item: Mapping[str, Any], key: str, *, required: bool = False, name: str | None = None
) -> datetime | None:
    """Return `item[key]` parsed as an RFC 3339 time (None for Go's zero time)."""
    text = get_str(item, key, required=required, name=name)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError:
        raise FieldError(name or key, "is not a valid time") from None


def get_status(item: Mapping[str, Any], key: str = "status") -> AlertStatus:
    """Return a required `firing`/`resolved` status."""
    value = require_str(item, key)
    if value == "firing":
        return "firing"
    if value == "resolved":
        return "resolved"
    raise FieldError(key, f"must be 'firing' or 'resolved', not {value[:40]!r}")


def get_list(item: Mapping[str, Any], key: str) -> list[Any]:
    """Return the required array `item[key]`."""
    value = item.get(key)
    if value is None:
        raise FieldError(key, "is required")
    if not isinstance(value, list):
        raise FieldError(key, f"must be an array, not {json_type(value)}")
    return value


def field_invalid(exc: FieldError) -> Invalid:
    """Turn a field error of a single-event payload into `Invalid`."""
    return Invalid(str(exc), details={"field": exc.field})


def each_alert(
    items: list[Any], build: Callable[[dict[str, Any]], AlertIn], *, path: str = "alerts"
) -> list[AlertIn]:
    """Build one AlertIn per item; the first bad item rejects the batch, naming its index."""
    alerts: list[AlertIn] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise BatchError(index, f"expected an object, got {json_type(item)}", path=path)
        try:
            alerts.append(build(item))
        except FieldError as exc:
            error = BatchError(index, str(exc), path=path)
            error.field = exc.field  # the message already names it: `alerts[3]: startsAt is …`
            error.details = {"index": index, "field": exc.field}
            raise error from None
    return alerts


def cap_raw(item: dict[str, Any], limit: int = RAW_LIMIT) -> dict[str, Any]:
    """Return the alert's own JSON as is, or a cut-down copy when it serializes past `limit`."""
    size = len(orjson.dumps(item))
    if size <= limit:
        return item
    cut = _shrink(item)
    if not isinstance(cut, dict) or len(orjson.dumps(cut)) > limit:
        cut = {"keys": sorted(item)[:_RAW_LIST_LIMIT]}
    cut["_truncated"] = True
    cut["_size"] = size
    return cut


def _shrink(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _RAW_STRING_LIMIT:
        return value[:_RAW_STRING_LIMIT] + "…"
    if isinstance(value, list):
        return [_shrink(v) for v in value[:_RAW_LIST_LIMIT]]
    if isinstance(value, dict):
        return {k: _shrink(v) for k, v in value.items()}
    return value


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header's value, matching its name case-insensitively."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, found in headers.items():
        if key.lower() == wanted:
            return found
    return None


def equals(a: str | bytes, b: str | bytes) -> bool:
    """Compare two values in constant time (for a given length)."""
    left = a.encode() if isinstance(a, str) else a
    right = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def body_digest(body: bytes) -> str:
    """Name a delivery by its signed body: `sha256:<hex>` (what a replayer cannot change)."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """Return the lowercase hex HMAC-SHA256 of `message` keyed by `secret`."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def match_signature(signatures: list[str], message: bytes, secrets: list[str]) -> int | None:
    """Return the index of the first secret whose HMAC-SHA256 hex is among `signatures`."""
    found: int | None = None
    wanted = [s.strip().lower() for s in signatures]
    # Every secret is tried against every signature, so the time taken says nothing of which
    # secret (or whether any) matched.
    for index, secret in enumerate(secrets):
        expected = hmac_sha256_hex(secret, message)
        hit = False
        for signature in wanted:
            hit |= equals(expected, signature)
        if hit and found is None and secret:
            found = index
    return found


def bearer_token(authorization: str | None) -> str | None:
    """Return the credentials of an `Authorization: Bearer …` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token or None


def match_bearer(authorization: str | None, tokens: list[str]) -> int | None:
    """Return the index of the configured token the bearer header carries, or None."""
    given = bearer_token(authorization)
    if given is None:
        return None
    # Comparing digests keeps the comparison the same length whatever the token lengths are.
    given_digest = hashlib.sha256(given.encode()).digest()
    found: int | None = None
    for index, token in enumerate(tokens):
        hit = hmac.compare_digest(given_digest, hashlib.sha256(token.encode()).digest())
        if hit and found is None and token:
            found = index
    return found


def prometheus_alert(
    item: dict[str, Any], *, source: str, group_key: str | None, links: list[dict[str, str]]
) -> AlertIn:
    """Build an AlertIn from one alert in Prometheus' shape (Alertmanager's and Grafana's)."""
    labels = get_str_map(item, "labels")
    annotations = get_str_map(item, "annotations")
    if runbook := annotations.get("runbook_url"):
        links = [*links, {"title": "Runbook", "url": runbook}]
    return AlertIn(
        source=source,
        fingerprint=require_str(item, "fingerprint"),
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
