"""Logging: one line per event, human-readable on a terminal or JSON with --log-format json."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, SecretStr

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
REDACTED = "[redacted]"
# `?token=` carries calendar tokens (calendar apps cannot send headers); an API token
# (`wr_` and 43 URL-safe characters) is redacted wherever else it turns up. Visible
# prefixes such as `wr_AbCdEfG…` are shorter and stay. Other query parameters that carry
# credentials are redacted too: httpx logs each outgoing URL, and Zoom's OAuth asks for the
# account id in the query; an OIDC callback brings its one-time `code` the same way.
_QUERY_TOKEN = re.compile(
    r"([?&](?:token|access_token|account_id|api_key|key|client_secret|secret|password|code|link)=)"
    r"[^&#\s\"']*",
    re.IGNORECASE,
)
_API_TOKEN = re.compile(r"\bwr_[A-Za-z0-9_-]{20,}")
# A page's one-click acknowledge link (`/ack/<claims>.<signature>`; `?link=` on a call).
_ACK_LINK = re.compile(r"(/ack/)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Secret values of the configuration in force (and of earlier ones: a rotated secret is still
# one): a log line never shows them, whoever wrote it — a vendor library's debug line, an
# exception's text. Shorter ones are left (every vendor's secret is longer): a short value
# such as "whatever" would redact ordinary words.
_KNOWN: frozenset[str] = frozenset()
_KNOWN_MIN = 12


def remember_secrets(config: object) -> None:
    """Redact, from now on, every secret value (`SecretStr`) found in `config`."""
    global _KNOWN
    found: set[str] = set()
    _collect(config, found)
    _KNOWN = _KNOWN | {value for value in found if len(value) >= _KNOWN_MIN}


def _collect(value: object, found: set[str]) -> None:
    if isinstance(value, SecretStr):
        found.add(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect(getattr(value, name), found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _collect(item, found)


def redact(text: str) -> str:
    """Return `text` with every token and known secret in it replaced by [redacted]."""
    text = _API_TOKEN.sub(REDACTED, _QUERY_TOKEN.sub(r"\1" + REDACTED, text))
    text = _ACK_LINK.sub(r"\1" + REDACTED, text)
    for secret in _KNOWN:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class RedactTokens(logging.Filter):
    """Redact tokens in a record's message and arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        # uvicorn's access line keeps the path with its query string in the arguments.
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    """Redact tokens in uvicorn's access log, whatever handler prints it (idempotent)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        # The filter saw the message and its arguments; an exception's text or an extra field
        # may still hold a secret, so every string value is redacted once more.
        payload = {k: redact(v) if isinstance(v, str) else v for k, v in payload.items()}
        return orjson.dumps(payload, default=lambda v: redact(str(v))).decode()


class TextFormatter(logging.Formatter):
    """Format a record as `time level [INC-n] message`."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        incident = getattr(record, "incident", None)
        tag = f" [{incident}]" if incident else ""
        line = f"{when} {record.levelname:<7} {record.name}{tag}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)  # the exception's text too, which the filter did not see


def setup(level: str = "INFO", fmt: str = "text") -> None:
    """Send warroom's and uvicorn's logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactTokens())  # every logger's lines, not only the access log's
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic says "Context impl SQLiteImpl" on every readiness probe; migrate.py logs upgrades.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # At DEBUG these print every request body: page texts (restricted titles among them) and
    # verification codes. warroom's own DEBUG lines stay; theirs never.
    for chatty in ("slack_sdk", "twilio", "apprise", "urllib3"):
        logging.getLogger(chatty).setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    redact_access_log()
