"""Grafana unified-alerting webhook contact point, signed with its optional HMAC-SHA256.

What this relies on (checked against Grafana's own code and documentation):
- The signing, grafana/alerting `http/hmac.go` (HMACRoundTripper.sign): HMAC-SHA256 keyed by
  the secret over the raw body; when a timestamp header is configured, over
  `<unix seconds> + ":" + body`, the seconds also sent in that header. The signature is
  lowercase hex with no `sha256=` prefix.
- The header names, the contact point's "HMAC Signature" settings: `header` (the UI and the
  webhook-notifier docs give `X-Grafana-Alerting-Signature` as the default) and
  `timestampHeader`, which has no default: no timestamp is sent unless it is named. The
  stored `http/hmac.go` falls back to `X-Grafana-Alert-Signature` when `header` is left empty,
  so that name is read too when the default is in use.
- The payload, grafana/alerting `receivers/webhook/v1/webhook.go` (webhookMessage, version "1")
  and `templates/template_data.go` (ExtendedAlert: status, labels, annotations, startsAt,
  endsAt, generatorURL, fingerprint, silenceURL, dashboardURL, panelURL, values, imageURL).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from warroom.core.errors import Invalid
from warroom.detection.schemas import AlertIn
from warroom.detection.sources.common import (
    FieldError,
    each_alert,
    field_invalid,
    get_list,
    get_str,
    header,
    match_signature,
    parse_object,
    prometheus_alert,
)

SOURCE = "grafana"
SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
FALLBACK_SIGNATURE_HEADER = "X-Grafana-Alert-Signature"
# Grafana has no default timestamp header; this is the name warroom's docs tell users to set.
TIMESTAMP_HEADER = "X-Grafana-Alerting-Timestamp"
MAX_SKEW = timedelta(minutes=5)
_LINKS = (("dashboardURL", "Dashboard"), ("panelURL", "Panel"), ("silenceURL", "Silence"))


def verify(
    body: bytes,
    headers: Mapping[str, str],
    secrets: list[str],
    now: datetime,
    *,
    signature_header: str = SIGNATURE_HEADER,
    timestamp_header: str | None = TIMESTAMP_HEADER,
    require_timestamp: bool = False,
    max_skew: timedelta = MAX_SKEW,
) -> int | None:
    """Return the index of the secret that signed this request, or None."""
    signature = header(headers, signature_header)
    if signature is None and signature_header == SIGNATURE_HEADER:
        signature = header(headers, FALLBACK_SIGNATURE_HEADER)
    if not signature:
        return None
    stamp = header(headers, timestamp_header) if timestamp_header else None
    if stamp is None:
        if require_timestamp:
            return None
        message = body
    else:
        stamp = stamp.strip()
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            return None
        if abs(now.timestamp() - int(stamp)) > max_skew.total_seconds():
            return None  # a replay, or a clock far off
        message = stamp.encode() + b":" + body
    return match_signature([signature], message, secrets)


def parse(body: bytes) -> list[AlertIn]:
    """Turn a Grafana webhook body into alerts; one bad alert rejects the batch."""
    payload = parse_object(body)
    version = payload.get("version")
    if version is not None and version != "1":
        raise Invalid(
            f"unsupported Grafana webhook version {version!r}; expected '1'",
            details={"field": "version"},
        )
    try:
        items = get_list(payload, "alerts")
        group_key = get_str(payload, "groupKey")
    except FieldError as exc:
        raise field_invalid(exc) from None
    return each_alert(items, lambda item: _alert(item, group_key))


def _alert(item: dict[str, Any], group_key: str | None) -> AlertIn:
    links = [{"title": title, "url": url} for key, title in _LINKS if (url := get_str(item, key))]
    if image := get_str(item, "imageURL"):
        links.append({"title": "Image", "url": image})
    return prometheus_alert(item, source=SOURCE, group_key=group_key, links=links)
