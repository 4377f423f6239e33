"""Intake sources: shared helpers, Alertmanager, the generic webhook and the web report form."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import need
from warroom.core.errors import Invalid
from warroom.detection.schemas import RAW_LIMIT
from warroom.detection.sources import alertmanager, common, report, webhook
from warroom.detection.sources.common import BatchError

AM_FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "alertmanager"


def am_fixture(name: str) -> bytes:
    """Return a recorded Alertmanager body, or skip when the shared fixtures are absent."""
    path = AM_FIXTURES / name
    need(path.is_file(), f"Alertmanager fixture {path} is absent")
    return path.read_bytes()


def dumps(value: Any) -> bytes:
    """Serialize a test payload."""
    return json.dumps(value).encode()


# --- common ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-26T21:56:03.397Z", datetime(2026, 11, 26, 21, 56, 3, 397000, UTC)),
        ("2026-11-26T21:56:03.791928237Z", datetime(2026, 11, 26, 21, 56, 3, 791928, UTC)),
        ("2026-11-26T21:56:03Z", datetime(2026, 11, 26, 21, 56, 3, tzinfo=UTC)),
        ("2026-03-02T10:00:05.101+0100", datetime(2026, 3, 2, 9, 0, 5, 101000, UTC)),
        ("2026-03-02T08:41:00.5-02:30", datetime(2026, 3, 2, 11, 11, 0, 500000, UTC)),
        ("0001-01-01T00:00:00Z", None),
    ],
)
def test_parse_time_formats(text: str, expected: datetime | None) -> None:
    parsed = common.parse_time(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["yesterday", "2026-11-26", "2026-11-26T21:56:03", "2026-13-01T00:00:00Z", ""]
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        common.parse_time(text)


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30), timezones=st.just(UTC)
    ),
    digits=st.sampled_from([0, 3, 6, 9]),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_parse_time_round_trips(moment: datetime, digits: int, offset_minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    fraction = f"{local.microsecond:06d}000"[:digits]
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    zone = "Z" if offset_minutes == 0 else f"{sign}{hours:02d}:{minutes:02d}"
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + zone
    expected = moment.replace(microsecond=int(fraction.ljust(6, "0")[:6]) if digits else 0)
    assert common.parse_time(text) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"\xff\xfe", "malformed JSON"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (b'"text"', "expected a JSON object, got a string"),
        (b"null", "expected a JSON object, got null"),
    ],
)
def test_parse_object_rejects(body: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message) as info:
        common.parse_object(body)
    assert info.value.status == 422


def test_batch_error_is_invalid_and_names_the_index() -> None:
    error = BatchError(3, "startsAt is not a valid time")
    assert isinstance(error, Invalid)
    assert str(error) == "alerts[3]: startsAt is not a valid time"
    assert error.index == 3


def test_cap_raw_keeps_small_dicts_and_cuts_large_ones() -> None:
    small = {"a": "b"}
    assert common.cap_raw(small) is small
    big = {"description": "x" * (RAW_LIMIT * 2), "labels": {"a": "b"}}
    capped = common.cap_raw(big)
    assert capped["_truncated"] is True
    assert capped["_size"] > RAW_LIMIT
    assert capped["labels"] == {"a": "b"}
    assert len(json.dumps(capped)) <= RAW_LIMIT
    huge = {f"k{i}": i for i in range(5000)}
    assert set(common.cap_raw(huge)) == {"keys", "_truncated", "_size"}


def test_header_lookup_ignores_case() -> None:
    assert common.header({"x-hub-signature": "v"}, "X-Hub-Signature") == "v"
    assert common.header({"X-Hub-Signature": "v"}, "X-Hub-Signature") == "v"
    assert common.header({}, "X-Hub-Signature") is None


def test_match_signature_returns_matching_secret_index() -> None:
    body = b"payload"
    second = common.hmac_sha256_hex("new", body)
    assert common.match_signature([second], body, ["old", "new"]) == 1
    assert common.match_signature([second.upper()], body, ["old", "new"]) == 1
    assert common.match_signature(["nothex"], body, ["old", "new"]) is None
    assert common.match_signature(["ünïcode"], body, ["old"]) is None


# --- Alertmanager ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer t-one", 0),
        ("Bearer t-two", 1),
        ("bearer   t-two  ", 1),
        ("Bearer wrong", None),
        ("Basic dC1vbmU=", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_alertmanager_bearer(header: str | None, expected: int | None) -> None:
    assert alertmanager.check_bearer(header, ["t-one", "t-two"]) == expected


def test_alertmanager_bearer_never_matches_an_empty_token() -> None:
    assert alertmanager.check_bearer("Bearer x", ["", "x"]) == 1
    assert alertmanager.check_bearer("Bearer ", [""]) is None


def test_alertmanager_firing_fixture() -> None:
    alerts = alertmanager.parse(am_fixture("firing.json"))
    assert [a.fingerprint for a in alerts] == ["a08ab450e488fb67", "c0dca0826398a793"]
    cpu = alerts[0]
    assert cpu.source == "alertmanager"
    assert cpu.status == "firing"
    assert cpu.title == "High CPU usage on 127.0.0.1:19090"
    assert cpu.summary is not None and cpu.summary.startswith("CPU usage of prometheus")
    assert cpu.severity == "sev2"
    assert alerts[1].severity == "sev3"
    assert cpu.labels["service"] == "checkout"
    assert cpu.annotations["runbook_url"].endswith("/high-cpu")
    assert cpu.starts_at == datetime(2026, 11, 26, 21, 56, 3, 397000, UTC)
    assert cpu.ends_at is None  # 0001-01-01T00:00:00Z
    assert cpu.generator_url is not None and cpu.generator_url.startswith("http://127.0.0.1:19090")
    assert cpu.group_key == '{}:{service="checkout", team="payments"}'
    assert cpu.links == [
        {"title": "Runbook", "url": "https://runbooks.example.com/payments/checkout/high-cpu"}
    ]
    assert cpu.raw["fingerprint"] == "a08ab450e488fb67"
    assert cpu.kind == "alert"


def test_alertmanager_resolved_fixture() -> None:
    alerts = alertmanager.parse(am_fixture("resolved.json"))
    assert [a.fingerprint for a in alerts] == ["a08ab450e488fb67", "c0dca0826398a793"]
    assert {a.status for a in alerts} == {"resolved"}
    assert alerts[0].ends_at == datetime(2026, 11, 26, 21, 57, 3, 397000, UTC)


def _am_payload() -> dict[str, Any]:
    return dict(json.loads(am_fixture("firing.json")))


def test_alertmanager_uses_each_alerts_status_and_nanoseconds() -> None:
    payload = _am_payload()
    payload["alerts"][1]["status"] = "resolved"
    payload["alerts"][1]["startsAt"] = "2026-11-26T21:56:03.791928237Z"
    payload["alerts"][1]["annotations"] = {}
    alerts = alertmanager.parse(dumps(payload))
    assert payload["status"] == "firing"
    assert [a.status for a in alerts] == ["firing", "resolved"]
    assert alerts[1].starts_at == datetime(2026, 11, 26, 21, 56, 3, 791928, UTC)
    assert alerts[1].title == "HighMemoryUsage"  # no summary: the alert name
    assert alerts[1].summary is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"startsAt": "not a time"}, r"^alerts\[1\]: startsAt is not a valid time$"),
        ({"startsAt": None}, r"^alerts\[1\]: startsAt is required$"),
        ({"fingerprint": ""}, r"^alerts\[1\]: fingerprint is required$"),
        ({"fingerprint": 7}, r"^alerts\[1\]: fingerprint must be a string, not a number$"),
        ({"status": "pending"}, r"^alerts\[1\]: status must be 'firing' or 'resolved'"),
        ({"labels": {"a": 1}}, r"^alerts\[1\]: labels.a must be a string, not a number$"),
        ({"labels": []}, r"^alerts\[1\]: labels must be an object, not an array$"),
        ({"endsAt": "2026-02-30T00:00:00Z"}, r"^alerts\[1\]: endsAt is not a valid time$"),
    ],
)
def test_alertmanager_bad_alert_rejects_the_batch(change: dict[str, Any], message: str) -> None:
    payload = _am_payload()
    payload["alerts"][1].update(change)
    with pytest.raises(BatchError, match=message) as info:
        alertmanager.parse(dumps(payload))
    assert info.value.index == 1
    assert info.value.status == 422


def test_alertmanager_non_object_alert() -> None:
    payload = _am_payload()
    payload["alerts"].append("oops")
    with pytest.raises(BatchError, match=r"^alerts\[2\]: expected an object, got a string$"):
        alertmanager.parse(dumps(payload))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": "3"}, "unsupported Alertmanager webhook version '3'"),
        ({"version": 4}, "unsupported Alertmanager webhook version 4"),
        ({"alerts": None}, "alerts is required"),
        ({"alerts": {}}, "alerts must be an array, not an object"),
        ({"groupKey": 5}, "groupKey must be a string"),
    ],
)
def test_alertmanager_wrong_schema(change: dict[str, Any], message: str) -> None:
    payload = _am_payload()
    payload.update(change)
    with pytest.raises(Invalid, match=message) as info:
        alertmanager.parse(dumps(payload))
    assert not isinstance(info.value, BatchError)


def test_alertmanager_prometheus_array_is_not_a_webhook() -> None:
    with pytest.raises(Invalid, match="expected a JSON object, got an array"):
        alertmanager.parse(b'[{"labels": {"alertname": "x"}}]')


def test_alertmanager_malformed_json() -> None:
    with pytest.raises(Invalid, match="malformed JSON"):
        alertmanager.parse(am_fixture("firing.json")[:-40])


# --- generic webhook ------------------------------------------------------------------------


def _generic(**overrides: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "title": "Disk almost full on db-1",
        "summary": "94% used on /var/lib/postgresql",
        "severity": "warning",
        "dedup_key": "db-1/disk",
        "labels": {"service": "checkout", "host": "db-1"},
        "links": [{"title": "Graph", "url": "https://grafana.example.com/d/disk"}],
        "starts_at": "2026-03-02T08:59:00.123456789Z",
    }
    alert.update(overrides)
    return alert


def test_webhook_single_object() -> None:
    [alert] = webhook.parse(dumps(_generic()))
    assert alert.source == "webhook"
    assert alert.fingerprint == "db-1/disk"
    assert alert.status == "firing"
    assert alert.title == "Disk almost full on db-1"
    assert alert.summary == "94% used on /var/lib/postgresql"
    assert alert.severity == "warning"
    assert alert.labels == {"service": "checkout", "host": "db-1"}
    assert alert.links == [{"title": "Graph", "url": "https://grafana.example.com/d/disk"}]
    assert alert.starts_at == datetime(2026, 3, 2, 8, 59, 0, 123456, UTC)
    assert alert.ends_at is None
    assert alert.raw["dedup_key"] == "db-1/disk"


def test_webhook_array_and_wrapper() -> None:
    resolved = _generic(dedup_key="b", status="resolved", ends_at="2026-03-02T09:10:00Z")
    minimal = {"title": "t", "dedup_key": "c"}
    for body in ([_generic(), resolved, minimal], {"alerts": [_generic(), resolved, minimal]}):
        alerts = webhook.parse(dumps(body))
        assert [a.fingerprint for a in alerts] == ["db-1/disk", "b", "c"]
        assert [a.status for a in alerts] == ["firing", "resolved", "firing"]
        assert alerts[1].ends_at == datetime(2026, 3, 2, 9, 10, tzinfo=UTC)
        assert alerts[2].labels == {} and alerts[2].links == []
    assert webhook.parse(b"[]") == []


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        (_generic(title="x" * 201), r"^alerts\[1\]\.title: must be at most 200 characters$"),
        ({"title": "t"}, r"^alerts\[1\]\.dedup_key: is required$"),
        (
            _generic(dedup_key="k" * 201),
            r"^alerts\[1\]\.dedup_key: must be at most 200 characters$",
        ),
        (_generic(status="pending"), r"^alerts\[1\]\.status: must be 'firing' or"),
        (_generic(colour="red"), r"^alerts\[1\]\.colour: unknown field$"),
        (_generic(labels={"a": 1}), r"^alerts\[1\]\.labels\.a: must be text$"),
        (_generic(links=[{"title": "x", "url": "ftp://x"}]), r"^alerts\[1\]\.links\[0\]\.url:"),
        (_generic(links=[{"url": "https://x"}]), r"^alerts\[1\]\.links\[0\]\.title: is required$"),
        (_generic(starts_at="soon"), r"^alerts\[1\]\.starts_at: is not a valid RFC 3339 time$"),
        (_generic(ends_at=5), r"^alerts\[1\]\.ends_at: must be an RFC 3339 time string$"),
        ("text", r"^alerts\[1\]: expected an object, got a string$"),
    ],
)
def test_webhook_bad_alert_names_index_and_field(alert: Any, message: str) -> None:
    with pytest.raises(BatchError, match=message) as info:
        webhook.parse(dumps({"alerts": [_generic(), alert]}))
    assert info.value.index == 1


def test_webhook_bare_array_error_and_single_object_error() -> None:
    with pytest.raises(BatchError, match=r"^\[0\]\.title: is required$"):
        webhook.parse(dumps([{"dedup_key": "k"}]))
    with pytest.raises(Invalid, match=r"^title: is required$") as info:
        webhook.parse(dumps({"dedup_key": "k"}))
    assert not isinstance(info.value, BatchError)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "malformed JSON"),
        (b"42", "expected a JSON object or array, got a number"),
        (b'{"alerts": {}}', "alerts must be an array, not an object"),
        (b'{"alerts": [], "extra": 1}', "unknown field 'extra' next to 'alerts'"),
    ],
)
def test_webhook_wrong_shape(body: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        webhook.parse(body)


def test_webhook_bearer_reuses_the_helper() -> None:
    assert webhook.check_bearer("Bearer b", ["a", "b"]) == 1
    assert webhook.check_bearer("Bearer c", ["a", "b"]) is None
    assert webhook.check_bearer(None, ["a"]) is None


# --- web report form ------------------------------------------------------------------------


def test_report_becomes_a_report_with_a_unique_fingerprint() -> None:
    body = dumps(
        {
            "title": " Checkout is down ",
            "summary": "Customers see 502",
            "severity": "SEV-1",
            "service": "checkout",
            "reporter": "alice",
        }
    )
    first = report.parse(body)
    second = report.parse(body)
    assert first.kind == "report"
    assert first.source == "web"
    assert first.status == "firing"
    assert first.title == "Checkout is down"
    assert first.summary == "Customers see 502"
    assert first.severity == "SEV-1"
    assert first.labels == {"service": "checkout"}
    assert first.reporter == "alice"
    assert first.fingerprint.startswith("web:") and len(first.fingerprint) == 4 + 32
    assert first.fingerprint != second.fingerprint


def test_report_signed_in_user_wins_and_minimal_form() -> None:
    alert = report.to_alert(report.ReportIn(title="Slow search"), reporter="bob")
    assert alert.reporter == "bob"
    assert alert.labels == {}
    assert alert.severity is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"summary": "x"}', "^title: is required$"),
        (b'{"title": ""}', "^title: must not be empty"),
        (b'{"title": "t", "priority": "high"}', "^priority: unknown field$"),
        (b"[]", "expected a JSON object"),
        (b"{", "malformed JSON"),
    ],
)
def test_report_rejects(body: bytes, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        report.parse(body)
