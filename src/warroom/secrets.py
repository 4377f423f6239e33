"""Secrets in warroom.yaml: literal values, `env:NAME` or `file:/PATH` (a Docker or Kubernetes
secret), read when the file is loaded.

Local admin tools (users, tokens, db, runbooks) load the file without the integrations'
environment: validated with the context `{"secrets": "unresolved"}`, a missing variable
becomes a marker instead of an error. Such a configuration is never used to send anything.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr, ValidationInfo

UNRESOLVED = "unresolved:"  # + the variable's name, in a configuration loaded for admin tools


def _from_file(path: str, info: ValidationInfo) -> str:
    """Read a `file:` secret: the file's text less its final line break."""
    if not path.startswith("/"):
        # Relative to what? The server's working directory is an accident of how it was
        # started; secret mounts (/run/secrets/…, /var/run/secrets/…) are absolute anyway.
        raise ValueError("file: needs an absolute path, e.g. file:/run/secrets/warroom_am_token")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        if (info.context or {}).get("secrets") == "unresolved":
            return UNRESOLVED + path
        # The reason (missing, not allowed, not text), never the content.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ValueError(f"secret file {path} cannot be read: {reason}") from None
    # `echo token > file` and Kubernetes both leave one line break at the end: not the secret.
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise ValueError(f"secret file {path} is empty")
    return text


def _from_env(value: Any, info: ValidationInfo) -> Any:
    """Resolve `env:NAME` and `file:/PATH` to their values (missing is an error)."""
    if isinstance(value, str) and value.startswith("file:"):
        return _from_file(value[5:], info)
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
