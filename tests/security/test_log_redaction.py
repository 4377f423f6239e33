"""Log lines never show a configured secret, wherever in the record it hides."""

from __future__ import annotations

import json
import logging
import sys

from warroom import logs
from warroom.config import WarroomConfig

SECRET = "grafana-s3cret-Vq81xZ"  # only in this module: other tests never see it redacted


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("warroom.test", logging.ERROR, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_configured_secret_is_redacted_in_message_arguments_exception_and_fields() -> None:
    config = WarroomConfig.model_validate(
        {"integrations": {"grafana": [{"name": "ops", "secret": SECRET}]}}
    )
    line = record("sent %s", SECRET, detail=f"with {SECRET}")
    try:
        raise RuntimeError(f"vendor refused {SECRET}")
    except RuntimeError:
        line.exc_info = sys.exc_info()
    before = logs.TextFormatter().format(line)
    assert SECRET in before  # not yet known: nothing hides it
    logs.remember_secrets(config)
    text = logs.TextFormatter().format(line)
    payload = json.loads(logs.JsonFormatter().format(line))
    assert SECRET not in text and text.count(logs.REDACTED) == 2  # message and exception
    assert SECRET not in json.dumps(payload)
    assert payload["detail"] == f"with {logs.REDACTED}"


def test_credentials_in_a_query_string_are_redacted_and_short_values_are_not() -> None:
    url = "POST https://zoom.us/oauth/token?grant_type=account_credentials&account_id=AbC123"
    assert logs.redact(url).endswith("grant_type=account_credentials&account_id=[redacted]")
    assert logs.redact("/cb?state=s1&code=one-time") == "/cb?state=s1&code=[redacted]"
    assert logs.redact("/x?postcode=12345") == "/x?postcode=12345"
    logs.remember_secrets(
        WarroomConfig.model_validate(
            {"integrations": {"alertmanager": [{"name": "a", "token": "whatever"}]}}
        )
    )
    assert logs.redact("whatever happens") == "whatever happens"  # under 12 characters


def test_acknowledge_links_are_redacted_in_paths_and_queries() -> None:
    line = '127.0.0.1 - "GET /ack/MTpib2I6MDox.RCv8keT1RYvMsBexgdWiaw HTTP/1.1" 200'
    assert logs.redact(line) == '127.0.0.1 - "GET /ack/[redacted] HTTP/1.1" 200'
    call = "POST /api/v1/intake/twilio/voice?link=MTpib2I6MDox.RCv8keT1 HTTP/1.1"
    assert logs.redact(call) == "POST /api/v1/intake/twilio/voice?link=[redacted] HTTP/1.1"
    assert logs.redact("/ack/") == "/ack/"  # nothing to hide
