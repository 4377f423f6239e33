"""Grafana unified-alerting webhook: HMAC signature (with and without timestamp) and payload."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from warroom.core.errors import Invalid
from warroom.detection.sources import grafana
from warroom.detection.sources.common import BatchError

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "grafana" / "firing.json"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRETS = ["old-secret", "new-secret"]


def sign(secret: str, body: bytes, stamp: str | None = None) -> str:
    """Sign the way Grafana's HMACRoundTripper does."""
    message = body if stamp is None else stamp.encode() + b":" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def body() -> bytes:
    """Return the hand-written Grafana payload."""
    return FIXTURE.read_bytes()


def test_signature_without_timestamp() -> None:
    headers = {"X-Grafana-Alerting-Signature": sign("new-secret", body())}
    assert grafana.verify(body(), headers, SECRETS, NOW) == 1
    assert grafana.verify(body(), headers, ["new-secret"], NOW) == 0


def test_signature_with_timestamp() -> None:
    stamp = str(int(NOW.timestamp()) - 30)
    headers = {
        "x-grafana-alerting-signature": sign("old-secret", body(), stamp),
        "x-grafana-alerting-timestamp": stamp,
    }
    assert grafana.verify(body(), headers, SECRETS, NOW) == 0
    # The timestamp is part of what is signed: a body-only signature does not pass with it.
    headers["x-grafana-alerting-signature"] = sign("old-secret", body())
    assert grafana.verify(body(), headers, SECRETS, NOW) is None


def test_custom_header_names() -> None:
    stamp = str(int(NOW.timestamp()))
    headers = {"X-Sig": sign("old-secret", body(), stamp), "X-Ts": stamp}
    found = grafana.verify(
        body(), headers, SECRETS, NOW, signature_header="X-Sig", timestamp_header="X-Ts"
    )
    assert found == 0
    assert grafana.verify(body(), headers, SECRETS, NOW) is None


def test_code_default_header_name_is_read_too() -> None:
    headers = {"X-Grafana-Alert-Signature": sign("old-secret", body())}
    assert grafana.verify(body(), headers, SECRETS, NOW) == 0


@pytest.mark.parametrize(
    ("skew", "ok"),
    [
        (timedelta(0), True),
        (timedelta(minutes=-5), True),
        (timedelta(minutes=5, seconds=1), False),
        (timedelta(minutes=-6), False),
        (timedelta(hours=3), False),
    ],
)
def test_timestamp_window(skew: timedelta, ok: bool) -> None:
    stamp = str(int((NOW + skew).timestamp()))
    headers = {
        "X-Grafana-Alerting-Signature": sign("new-secret", body(), stamp),
        "X-Grafana-Alerting-Timestamp": stamp,
    }
    assert (grafana.verify(body(), headers, SECRETS, NOW) == 1) is ok


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Grafana-Alerting-Signature": ""},
        {"X-Grafana-Alerting-Signature": "deadbeef"},
        {"X-Grafana-Alerting-Signature": sign("wrong", b"x")},
    ],
)
def test_missing_or_wrong_signature(headers: dict[str, str]) -> None:
    assert grafana.verify(body(), headers, SECRETS, NOW) is None


def test_wrong_secret_and_tampered_body() -> None:
    headers = {"X-Grafana-Alerting-Signature": sign("other", body())}
    assert grafana.verify(body(), headers, SECRETS, NOW) is None
    headers = {"X-Grafana-Alerting-Signature": sign("new-secret", body())}
    assert grafana.verify(body().replace(b"firing", b"resolved"), headers, SECRETS, NOW) is None


@pytest.mark.parametrize("stamp", ["soon", "-1", "1e9", "١٧٧٢٤٤١٦٠٠", "9" * 40])
def test_malformed_timestamp(stamp: str) -> None:
    headers = {
        "X-Grafana-Alerting-Signature": sign("new-secret", body(), stamp),
        "X-Grafana-Alerting-Timestamp": stamp,
    }
    assert grafana.verify(body(), headers, SECRETS, NOW) is None


def test_require_timestamp() -> None:
    headers = {"X-Grafana-Alerting-Signature": sign("new-secret", body())}
    assert grafana.verify(body(), headers, SECRETS, NOW, require_timestamp=True) is None


def test_parse_fixture() -> None:
    firing, resolved = grafana.parse(body())
    assert firing.source == "grafana"
    assert firing.fingerprint == "5e3c8f0a2b1d4c67"
    assert firing.status == "firing"
    assert firing.title == "Checkout p99 latency above 1s"
    assert firing.summary == "p99 latency of checkout is 2.4s (threshold 1s)."
    assert firing.severity == "critical"
    assert firing.labels["grafana_folder"] == "Payments"
    assert firing.starts_at == datetime(2026, 3, 2, 8, 58, 10, tzinfo=UTC)
    assert firing.ends_at is None
    assert firing.generator_url == (
        "https://grafana.example.com/alerting/grafana/ddk1x2y3z4/view?orgId=1"
    )
    assert firing.group_key is not None and firing.group_key.startswith("{}/{service=")
    assert [link["title"] for link in firing.links] == ["Dashboard", "Panel", "Silence", "Runbook"]
    assert firing.links[1]["url"].endswith("viewPanel=4")
    assert resolved.status == "resolved"
    assert resolved.starts_at == datetime(2026, 3, 2, 7, 41, 0, 123456, UTC)
    assert resolved.ends_at == datetime(2026, 3, 2, 8, 57, tzinfo=UTC)
    assert [link["title"] for link in resolved.links] == ["Silence"]  # empty URLs are left out
    assert resolved.summary is None


def _payload() -> dict[str, Any]:
    return dict(json.loads(body()))


def test_bad_alert_rejects_the_batch() -> None:
    payload = _payload()
    payload["alerts"][1]["endsAt"] = "2026-03-02 nine o'clock"
    with pytest.raises(BatchError, match=r"^alerts\[1\]: endsAt is not a valid time$"):
        grafana.parse(json.dumps(payload).encode())
    payload = _payload()
    del payload["alerts"][0]["fingerprint"]
    with pytest.raises(BatchError, match=r"^alerts\[0\]: fingerprint is required$"):
        grafana.parse(json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "2"}, "unsupported Grafana webhook version '2'"),
        ({"alerts": "none"}, "alerts must be an array, not a string"),
    ],
)
def test_wrong_schema(change: dict[str, Any], message: str) -> None:
    payload = _payload()
    payload.update(change)
    with pytest.raises(Invalid, match=message):
        grafana.parse(json.dumps(payload).encode())


def test_malformed_json() -> None:
    with pytest.raises(Invalid, match="malformed JSON"):
        grafana.parse(b'{"alerts": [')
