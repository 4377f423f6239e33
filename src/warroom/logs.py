"""Logging: one line per event, human-readable on a terminal or JSON with --log-format json."""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

import orjson

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
REDACTED = "[redacted]"
# `?token=` carries calendar tokens (calendar apps cannot send headers); an API token
# (`wr_` and 43 URL-safe characters) is redacted wherever else it turns up. Visible
# prefixes such as `wr_AbCdEfG…` are shorter and stay.
_QUERY_TOKEN = re.compile(r"([?&]token=)[^&#\s\"']*", re.IGNORECASE)
_API_TOKEN = re.compile(r"\bwr_[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """Return `text` with every token in it replaced by [redacted]."""
    return _API_TOKEN.sub(REDACTED, _QUERY_TOKEN.sub(r"\1" + REDACTED, text))


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
        return orjson.dumps(payload, default=str).decode()


class TextFormatter(logging.Formatter):
    """Format a record as `time level [INC-n] message`."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        incident = getattr(record, "incident", None)
        tag = f" [{incident}]" if incident else ""
        line = f"{when} {record.levelname:<7} {record.name}{tag}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


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
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    redact_access_log()
