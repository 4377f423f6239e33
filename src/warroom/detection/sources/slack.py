"""Slack slash command `/incident <title> [sev]` as a user report, checked by slack_sdk."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

from warroom.core.errors import Invalid
from warroom.detection.schemas import AlertIn

SOURCE = "slack"
SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
USAGE = "usage: /incident <title> [sev1|sev2|sev3|sev4]"
TITLE_LIMIT = 200
# A trailing sev1 / SEV-1 / sev_2 / P1 is the severity; anything else is part of the title.
_SEVERITY = re.compile(r"(?i)(?:sev[-_]?([1-4])|p([1-4]))")
# What raw keeps of the form: not `token` (the legacy verification token) nor `response_url`
# (it lets anyone post into the channel for 30 minutes): both are credentials.
_KEPT = (
    "command",
    "text",
    "user_id",
    "user_name",
    "channel_id",
    "channel_name",
    "team_id",
    "team_domain",
    "enterprise_id",
    "api_app_id",
    "trigger_id",
)


class _FixedClock(Clock):
    """slack_sdk's clock, answering with the time warroom's injected clock gave."""

    def __init__(self, now: datetime) -> None:
        self._now = now.timestamp()

    def now(self) -> float:
        """Return the injected time as Unix seconds."""
        return self._now


def verify(body: bytes, headers: Mapping[str, str], signing_secret: str, now: datetime) -> bool:
    """Check the `v0` signature and the 5-minute replay window with slack_sdk's verifier."""
    if not signing_secret.strip():
        return False
    verifier = SignatureVerifier(signing_secret, clock=_FixedClock(now))
    try:
        return verifier.is_valid_request(body, dict(headers))
    except (ValueError, UnicodeDecodeError):
        return False  # a timestamp that is not a number, or a body that is not UTF-8


def split_severity(text: str) -> tuple[str, str | None]:
    """Split `<title> [sev]` into the title and the normalised severity (`sev1`, `P2`)."""
    words = text.split()
    if not words:
        return "", None
    match = _SEVERITY.fullmatch(words[-1])
    if match is None:
        return " ".join(words), None
    severity = f"sev{match.group(1)}" if match.group(1) else f"P{match.group(2)}"
    return " ".join(words[:-1]), severity


def parse_command(body: bytes) -> AlertIn:
    """Turn a slash-command form body into a report; empty text is a usage error."""
    form = _form(body)
    text = form.get("text", "")
    title, severity = split_severity(text)
    if not title:
        raise Invalid(USAGE, details={"field": "text"})
    summary = None
    if len(title) > TITLE_LIMIT:
        summary = title
        title = title[: TITLE_LIMIT - 1].rstrip() + "…"
    user_id = form.get("user_id") or None
    team_id = form.get("team_id") or None
    trigger_id = form.get("trigger_id")
    if trigger_id:
        fingerprint = f"slack:{trigger_id}"
    else:
        key = "\x00".join((team_id or "", user_id or "", text.strip()))
        fingerprint = "slack:" + hashlib.sha256(key.encode()).hexdigest()[:32]
    labels = {
        label: value
        for label, value in (
            ("slack_team", team_id),
            ("slack_channel", form.get("channel_id")),
            ("slack_user", user_id),
        )
        if value
    }
    return AlertIn(
        source=SOURCE,
        fingerprint=fingerprint,
        status="firing",
        labels=labels,
        title=title,
        summary=summary,
        severity=severity,
        reporter=form.get("user_name") or user_id,
        kind="report",
        raw={k: v for k, v in form.items() if k in _KEPT},
    )


def _form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the form body is not UTF-8") from None
    try:
        pairs = parse_qs(text, keep_blank_values=True, max_num_fields=64)
    except ValueError as exc:
        raise Invalid(f"malformed form body: {exc}") from None
    return {key: values[0] for key, values in pairs.items()}
