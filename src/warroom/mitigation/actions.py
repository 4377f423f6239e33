"""The `actions:` section of warroom.yaml: named commands and HTTP calls responders may run."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from warroom.mitigation.action_guards import fill_url, inline_code
from warroom.secrets import Secret

ACTION_NAME = r"^[a-z0-9][a-z0-9_.-]*$"
PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
BUILTIN = ("incident", "service")  # placeholders every action may use
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
Role = Literal["responder", "admin"]
ROLES: tuple[Role, ...] = ("responder", "admin")  # viewers never run actions


class ParamConfig(BaseModel):
    """A value the responder supplies when running an action; it must match `pattern`."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1, max_length=1_000)
    required: bool = True
    default: str = ""
    description: str | None = Field(default=None, max_length=500)
    # A value starting with `-` is refused where it would start an argv item (an option).
    allow_leading_dash: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"pattern {value!r} is not a valid regular expression: {exc}"
            ) from None
        return value

    def matches(self, value: str) -> bool:
        """Tell whether the whole of `value` matches the pattern."""
        return re.fullmatch(self.pattern, value) is not None


class CommandConfig(BaseModel):
    """Run a program directly (never through a shell); placeholders fill single argv items."""

    model_config = ConfigDict(extra="forbid")

    argv: list[str] = Field(min_length=1)
    cwd: Path | None = None
    env: dict[str, Secret] = Field(default_factory=dict)
    timeout: float = Field(default=60.0, gt=0, le=900)

    @field_validator("argv")
    @classmethod
    def _program(cls, value: list[str]) -> list[str]:
        if not value[0].strip():
            raise ValueError("the program (argv[0]) must not be empty")
        if any("\x00" in item for item in value):
            raise ValueError("argv items must not contain NUL characters")
        if placeholders(value[0], "command.argv.0"):
            raise ValueError("the program (argv[0]) must be written out, not a placeholder")
        problem = inline_code(value)
        if problem is not None:
            raise ValueError(
                f"argv hands code to a shell or interpreter ({problem}): warroom never runs "
                "actions through a shell, where a param could inject commands. Run the program "
                "itself, or put the steps in a script file and run that with the params as "
                "arguments"
            )
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return value


class HttpConfig(BaseModel):
    """Send one HTTP request; placeholders fill the URL (encoded), JSON strings and the body."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str = "POST"
    url: str = Field(pattern=r"^https?://[^\s/?#{}]+", max_length=2_000)
    headers: dict[str, Secret] = Field(default_factory=dict)
    bearer_token: Secret | None = None  # sent as `Authorization: Bearer <token>`
    json_body: Any = Field(default=None, alias="json")
    body: str | None = Field(default=None, max_length=100_000)
    timeout: float = Field(default=10.0, gt=0, le=900)
    expect_status: list[int] = Field(default_factory=list)

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in METHODS:
            raise ValueError(f"method {value!r} is not one of {', '.join(METHODS)}")
        return upper

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
        return value

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        for code in value:
            if not 100 <= code <= 599:
                raise ValueError(f"{code} is not an HTTP status")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> HttpConfig:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give json or body, not both")
        if self.bearer_token is not None and "authorization" in map(str.lower, self.headers):
            raise ValueError("give bearer_token or an Authorization header, not both")
        return self


class ActionConfig(BaseModel):
    """A named action: a command or an HTTP call, who may run it and what it takes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=ACTION_NAME, max_length=64)
    description: str = Field(default="", max_length=1_000)
    command: CommandConfig | None = None
    http: HttpConfig | None = None
    dangerous: bool = False
    params: dict[str, ParamConfig] = Field(default_factory=dict)
    allowed_roles: list[Role] = Field(default_factory=lambda: list(ROLES), min_length=1)

    @field_validator("command", mode="before")
    @classmethod
    def _argv_shorthand(cls, value: Any) -> Any:
        # `command: [prog, arg]` is the common case; the mapping form adds cwd, env, timeout.
        return {"argv": value} if isinstance(value, list) else value

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, ParamConfig]) -> dict[str, ParamConfig]:
        for name in value:
            if not PARAM_NAME.match(name):
                raise ValueError(f"param {name!r} must be lower-case letters, digits and '_'")
            if name in BUILTIN:
                raise ValueError(f"param {name!r} clashes with the built-in {{{name}}}")
        return value

    @model_validator(mode="after")
    def _kind_and_placeholders(self) -> ActionConfig:
        if (self.command is None) == (self.http is None):
            raise ValueError("give exactly one of command or http")
        known = {*BUILTIN, *self.params}
        for where, text in self.templates():
            for name in placeholders(text, where):
                if name not in known:
                    allowed = ", ".join(f"{{{n}}}" for n in sorted(known))
                    raise ValueError(f"{where}: unknown placeholder {{{name}}}; known: {allowed}")
        in_argv = {
            n for w, t in self.templates() if w.startswith("command.") for n in placeholders(t)
        }
        for name, spec in self.params.items():
            if spec.allow_leading_dash and name not in in_argv:
                raise ValueError(
                    f"params.{name}.allow_leading_dash: {{{name}}} is not used in command.argv, "
                    "the only place a leading '-' is refused"
                )
        return self

    @property
    def kind(self) -> Literal["command", "http"]:
        """Return whether this action runs a command or sends an HTTP request."""
        return "command" if self.command is not None else "http"

    @property
    def timeout(self) -> float:
        """Return how long the action may take, in seconds."""
        spec = self.command or self.http
        assert spec is not None
        return spec.timeout

    def templates(self) -> Iterable[tuple[str, str]]:
        """Yield (where, text) for every string that may hold placeholders."""
        if self.command is not None:
            for index, item in enumerate(self.command.argv):
                yield f"command.argv.{index}", item
        if self.http is not None:
            yield "http.url", self.http.url
            if self.http.body is not None:
                yield "http.body", self.http.body
            yield from _json_strings(self.http.json_body, "http.json")


def _json_strings(value: Any, where: str) -> Iterable[tuple[str, str]]:
    """Yield (where, text) for every string inside a JSON value (keys stay literal)."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings(item, f"{where}.{index}")


def placeholders(text: str, where: str = "value") -> list[str]:
    """Return the `{name}` placeholders in `text`; raise ValueError on a malformed one."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc} (write {{{{ and }}}} for literal braces)") from None
    names = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        # Only bare names: `{x.attr}`, `{x[0]}` or `{x!r}` would reach into Python objects.
        if not PARAM_NAME.match(field) or spec or conversion:
            raise ValueError(f"{where}: placeholder {{{field}}} must be a plain name like {{user}}")
        names.append(field)
    return names


def fill(text: str, values: Mapping[str, str], *, encode: bool = False) -> str:
    """Return `text` with each placeholder replaced by its value (URL-encoded if asked).

    `encode=True` fills a URL: values are percent-encoded and refused (`Refused`) where
    they would leave their path segment (see `action_guards.fill_url`).
    """
    if encode:
        return fill_url(text, values)
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(text):
        out.append(literal)
        if field is not None:
            value = values[field]
            out.append(value)
    return "".join(out)


def fill_json(value: Any, values: Mapping[str, str]) -> Any:
    """Return a copy of a JSON value with placeholders filled in its strings."""
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, dict):
        return {key: fill_json(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [fill_json(item, values) for item in value]
    return value


def _unique(actions: list[ActionConfig]) -> list[ActionConfig]:
    seen: set[str] = set()
    for action in actions:
        if action.name in seen:
            raise ValueError(f"action {action.name!r} is defined twice")
        seen.add(action.name)
    return actions


ActionList = Annotated[list[ActionConfig], AfterValidator(_unique)]


def find(actions: list[ActionConfig], name: str) -> ActionConfig | None:
    """Return the configured action called `name`, if any."""
    return next((a for a in actions if a.name == name), None)
