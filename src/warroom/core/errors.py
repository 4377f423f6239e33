"""Domain errors; the API maps each to an HTTP status, the CLI to an exit code."""

from __future__ import annotations

from typing import Any


class WarroomError(Exception):
    """Base for errors a caller can act on."""

    code = "error"
    status = 400

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(WarroomError):
    """The thing asked for does not exist."""

    code = "not_found"
    status = 404


class Invalid(WarroomError):
    """The input is well-formed but not acceptable."""

    code = "invalid"
    status = 422


class Conflict(WarroomError):
    """The request clashes with the current state (an illegal transition, a missing field)."""

    code = "conflict"
    status = 409


class Unauthorized(WarroomError):
    """No credentials, or credentials that are not valid."""

    code = "unauthorized"
    status = 401


class Forbidden(WarroomError):
    """Valid credentials without the role the action needs."""

    code = "forbidden"
    status = 403

    def __init__(self, message: str, details: Any = None, *, audited: bool = False) -> None:
        super().__init__(message, details)
        # True when the refusing code wrote its own audit entry: the API does not add another.
        self.audited = audited


class ConfigError(WarroomError):
    """The configuration file is not valid; `problems` holds `file:line: message` lines."""

    code = "config_error"
    status = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), details=problems)
        self.problems = problems


class ActionTimedOut(WarroomError):
    """An automated action ran past its timeout and was stopped; details hold its result."""

    code = "action_timed_out"
    status = 424  # Failed Dependency: what the request relied on did not finish
