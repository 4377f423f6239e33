"""Slack `/incident` slash command: slack_sdk signature check and the title/severity split."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warroom.core.errors import Invalid
from warroom.detection.sources import slack

BODY = (Path(__file__).resolve().parents[1] / "fixtures" / "slack" / "command.txt").read_bytes()
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def signed(body: bytes, secret: str = SECRET, at: datetime = NOW) -> dict[str, str]:
    """Return the headers Slack sends: `v0=` HMAC of `v0:<ts>:<body>`."""
    stamp = str(int(at.timestamp()))
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def test_valid_signature() -> None:
    assert slack.verify(BODY, signed(BODY), SECRET, NOW)
    lower = {k.lower(): v for k, v in signed(BODY).items()}
    assert slack.verify(BODY, lower, SECRET, NOW + timedelta(minutes=4))


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), timedelta(minutes=-6)])
def test_outside_the_five_minute_window(skew: timedelta) -> None:
    assert not slack.verify(BODY, signed(BODY, at=NOW + skew), SECRET, NOW)


def test_wrong_secret_tampered_body_missing_headers() -> None:
    assert not slack.verify(BODY, signed(BODY, secret="other"), SECRET, NOW)
    assert not slack.verify(BODY + b"&x=1", signed(BODY), SECRET, NOW)
    assert not slack.verify(BODY, {}, SECRET, NOW)
    only_signature = {"X-Slack-Signature": signed(BODY)["X-Slack-Signature"]}
    assert not slack.verify(BODY, only_signature, SECRET, NOW)
    assert not slack.verify(BODY, signed(BODY), "", NOW)


def test_malformed_timestamp_and_body() -> None:
    headers = signed(BODY) | {"X-Slack-Request-Timestamp": "soon"}
    assert not slack.verify(BODY, headers, SECRET, NOW)
    assert not slack.verify(b"\xff\xfe", signed(b"\xff\xfe"), SECRET, NOW)


def test_parse_fixture() -> None:
    alert = slack.parse_command(BODY)
    assert alert.kind == "report"
    assert alert.source == "slack"
    assert alert.status == "firing"
    assert alert.title == "Checkout returns 502 for EU customers"
    assert alert.severity == "sev1"
    assert alert.reporter == "alice"
    assert alert.fingerprint == "slack:13345224609.738474920.8088930838d88f008e0"
    assert alert.labels == {
        "slack_team": "T0001",
        "slack_channel": "C2147483705",
        "slack_user": "U2147483697",
    }
    assert alert.raw["command"] == "/incident"
    assert "token" not in alert.raw
    assert "response_url" not in alert.raw


@pytest.mark.parametrize(
    ("text", "title", "severity"),
    [
        ("DB down sev1", "DB down", "sev1"),
        ("DB down SEV-1", "DB down", "sev1"),
        ("DB down sev-2", "DB down", "sev2"),
        ("DB down Sev_3", "DB down", "sev3"),
        ("DB down P1", "DB down", "P1"),
        ("DB down p4", "DB down", "P4"),
        ("DB down  sev4  ", "DB down", "sev4"),
        ("DB down sev5", "DB down sev5", None),
        ("sev1 DB down", "sev1 DB down", None),
        ("DB down", "DB down", None),
        ("P1", "", "P1"),
        ("   ", "", None),
    ],
)
def test_split_severity(text: str, title: str, severity: str | None) -> None:
    assert slack.split_severity(text) == (title, severity)


_word = st.text(alphabet=st.characters(categories=("L", "N", "P")), min_size=1, max_size=12)


@given(
    words=st.lists(_word, min_size=1, max_size=8).filter(
        lambda ws: re.fullmatch(r"(?i)sev[-_]?[1-4]|p[1-4]", ws[-1]) is None
    ),
    level=st.integers(min_value=1, max_value=4),
    style=st.sampled_from(["sev{}", "SEV-{}", "Sev_{}", "P{}", "p{}"]),
)
def test_split_severity_property(words: list[str], level: int, style: str) -> None:
    title = " ".join(words)
    assert slack.split_severity(title) == (title, None)
    found_title, severity = slack.split_severity(f"{title} {style.format(level)}")
    assert found_title == title
    assert severity == (f"P{level}" if style.lower().startswith("p") else f"sev{level}")


@pytest.mark.parametrize("text", ["", "   ", "sev2", "P3"])
def test_usage_error(text: str) -> None:
    with pytest.raises(Invalid, match=r"^usage: /incident <title> \[sev1\|sev2\|sev3\|sev4\]$"):
        slack.parse_command(urlencode({"text": text, "user_id": "U1"}).encode())


def test_missing_trigger_id_hashes_team_user_text() -> None:
    form = {"text": "Search is slow", "user_id": "U1", "team_id": "T1"}
    first = slack.parse_command(urlencode(form).encode())
    again = slack.parse_command(urlencode(form).encode())
    other = slack.parse_command(urlencode(form | {"user_id": "U2"}).encode())
    assert first.fingerprint.startswith("slack:")
    assert first.fingerprint == again.fingerprint != other.fingerprint
    assert first.reporter == "U1"  # no user_name
    assert first.severity is None


def test_long_title_is_cut_and_kept_in_summary() -> None:
    text = "word " * 100
    alert = slack.parse_command(urlencode({"text": text, "trigger_id": "t"}).encode())
    assert alert.title is not None and len(alert.title) == slack.TITLE_LIMIT
    assert alert.title.endswith("…")
    assert alert.summary == text.strip()


def test_body_not_utf8() -> None:
    with pytest.raises(Invalid, match="not UTF-8"):
        slack.parse_command(b"text=\xff")
