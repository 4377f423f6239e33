"""Validation errors in people's words: what is wrong with a field, not how pydantic says it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_PLAIN = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "datetime_type": "must be a date and time (ISO 8601, e.g. 2026-03-01T14:05:00Z)",
    "datetime_parsing": "must be a date and time (ISO 8601, e.g. 2026-03-01T14:05:00Z)",
    "datetime_from_date_parsing": "must be a date and time (ISO 8601, e.g. 2026-03-01T14:05:00Z)",
    "date_type": "must be a date (e.g. 2026-03-01)",
    "date_parsing": "must be a date (e.g. 2026-03-01)",
    "date_from_datetime_parsing": "must be a date (e.g. 2026-03-01)",
    "url_parsing": "must be a URL",
    "url_scheme": "must be an http(s) URL",
    "value_error": "",  # the validator's own message, below
}


def humane(error: Mapping[str, Any]) -> str:
    """Return what is wrong with one field, from one of pydantic's `errors()` entries."""
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    message = str(error.get("msg", ""))
    if kind in ("value_error", "assertion_error"):
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s)"
    if kind == "string_pattern_mismatch":
        return f"does not have the expected form ({ctx.get('pattern')})"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return message.replace("Input should be", "must be")
    if kind in _PLAIN:
        return _PLAIN[kind]
    if message.startswith("Input should be "):  # literals and enums: the choices are useful
        return "must be " + message.removeprefix("Input should be ")
    return message
