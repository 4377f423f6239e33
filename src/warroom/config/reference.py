"""Write docs/reference.md from the models: every `WARROOM_*` setting and warroom.yaml key.

Run `warroom config reference --output docs/reference.md` (or
`python -m warroom.config.reference`) after changing a model; a test fails while the
committed file differs from what this writes.
"""

from __future__ import annotations

import ast
import enum
import inspect
import io
import sys
import textwrap
import tokenize
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from warroom.core.durations import format_duration

REFERENCE = Path("docs/reference.md")

# settings.py has no descriptions of its own; a test fails when a setting is missing here.
SETTING_HELP = {
    "config": "The warroom.yaml to read; unset: ./warroom.yaml if present, else built-in defaults.",
    "data_dir": "Where the SQLite database, evidence files and other state live.",
    "database_url": (
        "SQLAlchemy URL of the database (`postgresql://…` uses psycopg 3); "
        "unset: SQLite at `WARROOM_DATA_DIR/warroom.db`."
    ),
    "runbooks_dir": "Where runbooks are read from and generated into.",
    "log_format": "`text` or `json`.",
    "log_level": "`DEBUG`, `INFO`, `WARNING` or `ERROR`.",
}


@dataclass(frozen=True)
class Row:
    """One line of a table: a key, its type in words, its default and what it means."""

    key: str
    type: str
    default: str
    description: str


def render() -> str:
    """Return the whole of docs/reference.md."""
    from warroom.config.model import WarroomConfig
    from warroom.settings import Settings

    out = [
        "# Configuration reference",
        "",
        "Generated from the code by `warroom config reference --output docs/reference.md`;",
        "do not edit by hand. How the pieces fit together is in",
        "[configuration.md](configuration.md). Keys are dotted: `a[].b` is the key `b` of each",
        "item of the list `a`, `a.<name>.b` the key `b` of each entry of the mapping `a`.",
        "A `secret` is written literally, as `env:NAME` or as `file:/PATH`",
        "([configuration.md](configuration.md)); its value is never shown.",
        "",
        "## Environment variables",
        "",
        *table(setting_rows(Settings)),
        "",
        "The CLI's commands that talk to a server also read `WARROOM_URL` and `WARROOM_TOKEN`",
        "([cli.md](cli.md)).",
        "",
        "## warroom.yaml",
        "",
        clean(WarroomConfig.__doc__ or ""),
    ]
    for name, field in WarroomConfig.model_fields.items():
        key = field.alias or name
        out += ["", f"### `{key}`", "", *table(field_rows(WarroomConfig, name, field, key))]
    return "\n".join(out) + "\n"


def setting_rows(settings: type[BaseModel]) -> Iterator[Row]:
    """Yield a row per `WARROOM_*` variable."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    for name, field in settings.model_fields.items():
        help_text = field.description or SETTING_HELP.get(name, "")
        yield Row((prefix + name).upper(), words(field.annotation), default(field), help_text)


def field_rows(owner: type[BaseModel], name: str, field: FieldInfo, key: str) -> Iterator[Row]:
    """Yield the row of one field, then the rows of every model inside its type."""
    yield Row(key, words(field.annotation), default(field), describe(owner, name, field))
    for suffix, model in models_in(field.annotation):
        yield from model_rows(model, key + suffix, seen=frozenset())


def has_secret(annotation: Any) -> bool:
    """Tell whether a value of this type holds a secret anywhere."""
    if isinstance(annotation, type) and issubclass(annotation, SecretStr):
        return True
    return any(has_secret(arg) for arg in get_args(annotation))


def model_rows(model: type[BaseModel], prefix: str, seen: frozenset[type]) -> Iterator[Row]:
    """Yield the rows of a model's fields under `prefix`, recursing into nested models."""
    if model in seen:  # a recursive model: its keys are already listed above
        return
    for name, field in model.model_fields.items():
        key = f"{prefix}.{field.alias or name}"
        yield Row(key, words(field.annotation), default(field), describe(model, name, field))
        for suffix, inner in models_in(field.annotation):
            yield from model_rows(inner, key + suffix, seen | {model})


def models_in(annotation: Any, suffix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """Yield the models a type holds, with how their keys hang below the field's."""
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield suffix, annotation
    elif origin is Annotated:
        yield from models_in(args[0], suffix)
    elif origin in (Union, types.UnionType):
        for arg in args:
            yield from models_in(arg, suffix)
    elif origin in (list, tuple, set, frozenset):
        for arg in args:
            if arg is not Ellipsis:
                yield from models_in(arg, suffix + "[]")
    elif origin is dict:
        yield from models_in(args[1], suffix + ".<name>")


def words(annotation: Any) -> str:
    """Describe a type as a person writing YAML thinks of it."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is Annotated:
        return words(args[0])
    if origin in (Union, types.UnionType):
        present = [words(arg) for arg in args if arg is not type(None)]
        text = " or ".join(dict.fromkeys(present))
        return f"{text} (optional)" if type(None) in args else text
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in args)
    if origin in (list, tuple, set, frozenset):
        inner = [a for a in args if a is not Ellipsis]
        return "list of " + (words(inner[0]) if inner else "values")
    if origin is dict:
        return f"mapping of {words(args[0])} to {words(args[1])}" if args else "mapping"
    if not isinstance(annotation, type):
        return "any" if annotation is Any else str(annotation)
    if issubclass(annotation, SecretStr):
        return "secret"
    if issubclass(annotation, BaseModel):
        return "mapping"
    if issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(f"`{member.value}`" for member in annotation)
    if issubclass(annotation, timedelta):
        return "duration"
    if issubclass(annotation, Path):
        return "path"
    simple = {bool: "boolean", int: "integer", float: "number", str: "string", date: "date"}
    named = {"EmailStr": "e-mail address", "HttpUrl": "URL", "AnyUrl": "URL"}
    return simple.get(annotation) or named.get(annotation.__name__, annotation.__name__)


def default(field: FieldInfo) -> str:
    """Write a field's default as it would be written in YAML; never a secret's value."""
    if has_secret(field.annotation):
        return "required" if field.is_required() else "—"
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:  # a factory that wants the validated data: nothing to show
            return "computed"
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    return yaml_value(value)


def yaml_value(value: Any) -> str:
    """Write one default value briefly, in YAML's flow style; a long one by its keys."""
    if value is None:
        return "unset"
    if isinstance(value, Path) and not value.is_absolute():
        return f"`./{value.as_posix()}`"
    section = isinstance(value, BaseModel)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    written = flow(value)
    if len(written) <= LONGEST_DEFAULT:
        return f"`{written}`"
    if section:
        return "see below"
    if isinstance(value, dict):
        keys = [f"`{key}`" for key in value]
        return "built-in for " + ", ".join(keys[:6]) + (", …" if len(keys) > 6 else "")
    return f"built-in ({len(value)} items)" if isinstance(value, list) else "built-in"


LONGEST_DEFAULT = 60  # characters of a default shown whole; longer ones are summarised


def flow(value: Any) -> str:
    """Write a value as YAML's flow style writes it (`{count: 3, per: 1m}`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, enum.Enum):
        return flow(value.value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    if value == "":
        return '""'
    return "null" if value is None else str(value)


def describe(owner: type[BaseModel], name: str, field: FieldInfo) -> str:
    """Return a field's description: its Field description, else its comment in the source."""
    if field.description:
        return clean(field.description)
    comment = next(
        (
            source_comments(cls).get(name, ("", ""))
            for cls in owner.__mro__  # an inherited field is commented where it is declared
            if name in getattr(cls, "__annotations__", {})
        ),
        ("", ""),
    )
    # A section is described by its model's docstring: its comment is mostly a pointer for
    # developers (`# docs/mitigation.md`) or says the same in fewer words.
    for _suffix, model in models_in(field.annotation):
        if model.__doc__:
            return clean(model.__doc__.split("\n\n")[0])
    return comment[0] or comment[1]


@cache
def source_comments(cls: type) -> dict[str, tuple[str, str]]:
    """Map a class's field names to the comment on their lines and the comment just above."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source shipped: the table has no descriptions
        return {}
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    lines = source.splitlines()
    found: dict[str, tuple[str, str]] = {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    for statement in body.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)):
            continue
        end = statement.end_lineno or statement.lineno
        own = [comments[n] for n in range(statement.lineno, end + 1) if n in comments]
        above: list[str] = []
        line = statement.lineno - 1
        while line in comments and lines[line - 1].lstrip().startswith("#"):
            above.insert(0, comments[line])
            line -= 1
        found[statement.target.id] = (clean(" ".join(own)), clean(" ".join(above)))
    return found


def clean(text: str) -> str:
    """Fold text onto one table-safe line."""
    return " ".join(text.split()).replace("|", "\\|")


def table(rows: Iterator[Row]) -> list[str]:
    """Return a Markdown table of rows, each key listed once."""
    out = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    listed: set[str] = set()
    for row in rows:
        if row.key in listed:  # the same key in two variants of a union: the first says it
            continue
        listed.add(row.key)
        cells = (f"`{row.key}`", clean(row.type), clean(row.default), row.description)
        out.append("| " + " | ".join(cells) + " |")
    return out


def main(argv: list[str] | None = None) -> int:
    """Write the reference to the file named (default docs/reference.md), or `-` for stdout."""
    args = sys.argv[1:] if argv is None else argv
    target = args[0] if args else str(REFERENCE)
    text = render()
    if target == "-":
        sys.stdout.write(text)
    else:
        Path(target).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
