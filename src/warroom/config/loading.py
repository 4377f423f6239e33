"""Read warroom.yaml: parse, validate, and name the file, line and field of every problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from warroom.config.checks import cross_check
from warroom.config.keys import EXTENSION_PREFIX, unknown_key
from warroom.config.lines import KEY, line_index, nearest_line
from warroom.config.model import WarroomConfig
from warroom.core.errors import ConfigError


def load_config(path: Path | None, *, resolve_secrets: bool = True) -> WarroomConfig:
    """Read and validate `warroom.yaml`; errors name the file, line and field.

    `resolve_secrets=False` is for local admin tools that send nothing: an `env:` secret whose
    variable is not set is then no error (see warroom.secrets).
    """
    if path is None:
        return WarroomConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    try:
        node = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}:{line}: invalid YAML: {problem}"]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: the top level must be a mapping of sections"])
    lines = line_index(node)
    data = {k: v for k, v in data.items() if not str(k).startswith(EXTENSION_PREFIX)}
    try:
        context = None if resolve_secrets else {"secrets": "unresolved"}
        config = WarroomConfig.model_validate(data, context=context)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            if error["type"] == "extra_forbidden":  # a misspelt key: name the one meant
                where = ".".join(str(part) for part in loc[:-1])
                line = lines.get((*loc, KEY)) or nearest_line(lines, loc)
                message = unknown_key(WarroomConfig, loc)
                problems.append(f"{path}:{line}: {where + ': ' if where else ''}{message}")
                continue
            field = ".".join(str(part) for part in loc) or "(top level)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{path}:{nearest_line(lines, loc)}: {field}: {message}")
        raise ConfigError(problems) from exc
    problems = cross_check(config, lines, path)
    if problems:
        raise ConfigError(problems)
    return config
