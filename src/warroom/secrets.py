"""Secrets in warroom.yaml: literal values or `env:NAME`, read when the file is loaded.

Local admin tools (users, tokens, db, runbooks) load the file without the integrations'
environment: validated with the context `{"secrets": "unresolved"}`, a missing variable
becomes a marker instead of an error. Such a configuration is never used to send anything.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr, ValidationInfo

UNRESOLVED = "unresolved:"  # + the variable's name, in a configuration loaded for admin tools


def _from_env(value: Any, info: ValidationInfo) -> Any:
    """Resolve `env:NAME` to the environment variable's value (missing is an error)."""
    if isinstance(value, str) and value.startswith("env:"):
        name = value[4:]
        if not name:
            raise ValueError("env: needs a variable name, e.g. env:WARROOM_AM_TOKEN")
        resolved = os.environ.get(name)
        if resolved is None or resolved == "":
            if (info.context or {}).get("secrets") == "unresolved":
                return UNRESOLVED + name
            raise ValueError(f"environment variable {name} is not set")
        return resolved
    if isinstance(value, str) and not value:
        raise ValueError("a secret must not be empty")
    return value


Secret = Annotated[SecretStr, BeforeValidator(_from_env)]
