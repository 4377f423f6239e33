"""Checks on what an action runs: no inline code for a shell or interpreter, safe placeholders.

Action commands are trusted admin code (docs/mitigation.md, "What the checks can and cannot
do"): the argv guard catches the obvious ways a param could become code, not every one.
The value checks are exact: a value never leaves its URL path segment and never becomes an
option of the program.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

SHELLS = frozenset(
    {"sh", "bash", "rbash", "dash", "zsh", "ksh", "mksh", "pdksh", "ash", "yash", "posh"}
    | {"fish", "csh", "tcsh", "expect"}
)


@dataclass(frozen=True)
class Interpreter:
    """How a program takes code as a string: the option, and options that take a value."""

    code: re.Pattern[str]
    valued: frozenset[str] = frozenset()  # options whose value is the next argument
    every: bool = False  # look at every later argument, not only the program's own options


_SHELL = Interpreter(
    re.compile(r"^(-[a-zA-Z]*c[a-zA-Z]*|--command(=.*)?|--session-command(=.*)?)$"),
    frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"}),
)
# Program (without directory and version suffix) → how it runs a string as code.
INLINE_CODE: dict[str, Interpreter] = {
    **dict.fromkeys(SHELLS, _SHELL),
    # su USER -c CMD: the user comes before the command string.
    **dict.fromkeys(("su", "runuser"), Interpreter(_SHELL.code, every=True)),
    # python -c, -Ic, -uc…: the flags before `c` are those that take no value.
    **dict.fromkeys(
        ("python", "pypy"),
        Interpreter(re.compile(r"^-[bBdEhiIOPqRsSuvx]*c"), frozenset({"-W", "-X"})),
    ),
    # perl -e/-E, -ne, -lpe…; not -M/-m/-I/-d/-x, whose value follows in the same word.
    "perl": Interpreter(re.compile(r"^-(?![MmIdDxV])[a-zA-Z0-9]*[eE]"), frozenset({"-I"})),
    "ruby": Interpreter(
        re.compile(r"^-(?![rICEKTWx])[a-zA-Z]*e"), frozenset({"-I", "-r", "-E", "-C"})
    ),
    **dict.fromkeys(
        ("node", "nodejs", "bun"),
        Interpreter(
            re.compile(r"^(-[pe]{1,2}|--(eval|print)(=.*)?)$"),
            frozenset({"-r", "--require", "--import", "--loader", "--env-file"}),
        ),
    ),
    "php": Interpreter(
        re.compile(r"^(-[rBRE]|--(run|process-begin|process-code|process-end)(=.*)?)$"),
        frozenset({"-d", "-c", "-z"}),
    ),
    **dict.fromkeys(
        ("lua", "luajit", "rscript", "osascript"),
        Interpreter(re.compile(r"^-e"), frozenset({"-l"})),
    ),
    # PowerShell: every later argument is looked at (most of its options take values).
    **dict.fromkeys(
        ("pwsh", "powershell"),
        Interpreter(re.compile(r"^-(c|command|e|ec|encodedcommand)$", re.IGNORECASE), every=True),
    ),
    # env -S splits one string into a command line: `env -S "sh -c '…'"`.
    "env": Interpreter(
        re.compile(r"^(-[a-zA-Z]*S.*|--split-string(=.*)?)$"), frozenset({"-u", "-C"})
    ),
    # sudo -s / -i run the command through the target user's shell.
    "sudo": Interpreter(
        re.compile(r"^(-[a-zA-Z]*[si]|--shell|--login)$"),
        frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T"}),
    ),
}
# Their first operand is a program text: awk '{ system($1) }' runs whatever a value says.
PROGRAM_TEXT = frozenset({"awk", "gawk", "mawk", "nawk"})
_VERSION = re.compile(r"[0-9.]+$")
_ORIGIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?#{}]*")


def program_name(item: str) -> str:
    """Return a program's name without its directory and version: /usr/bin/python3.12 → python."""
    name = item.rsplit("/", 1)[-1].lower()
    return _VERSION.sub("", name) or name


def inline_code(argv: list[str]) -> str | None:
    """Return why `argv` would hand a string to a shell or interpreter as code, if it would.

    Every item is looked at, not only argv[0]: `env sh -c`, `busybox sh -c`, `sudo bash -c`,
    `nice python3 -c` and `ssh host bash -c` hide the interpreter behind another program.
    A program's own options are read up to its first operand (its script, or the program it
    runs), so `python3 tool.py -c conf.yaml` passes.
    """
    for index, item in enumerate(argv):
        name = program_name(item)
        if name in PROGRAM_TEXT:
            return f"{item} runs its first argument as a program"
        spec = INLINE_CODE.get(name)
        if spec is None:
            continue
        found = _code_option(argv[index + 1 :], spec)
        if found is not None:
            return f"{item} {found} runs a string as code"
    return None


def _code_option(args: list[str], spec: Interpreter) -> str | None:
    """Return the option among the program's own that takes code, if any."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if spec.code.match(arg):
            return arg
        if spec.every:
            continue
        if arg == "--" or not arg.startswith(("-", "+")) or arg in ("-", "+"):
            return None  # the first operand: what follows is the script's or program's
        skip = arg in spec.valued
    return None


def _decoded(value: str) -> str:
    """Return `value` with percent-encoding undone, however many times it was applied."""
    for _ in range(5):
        plain = unquote(value)
        if plain == value:
            break
        value = plain
    return value


class Refused(ValueError):
    """A placeholder's value may not go where the action would put it."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _parts(text: str) -> Iterable[tuple[str, str | None]]:
    for literal, field, _spec, _conversion in string.Formatter().parse(text):
        yield literal, field


def fill_url(text: str, values: Mapping[str, str]) -> str:
    """Return the URL with values percent-encoded; refuse one that would leave its path step.

    A value in the path may not hold `/` or `\\` (plain or percent-encoded, once or more),
    nor make its segment `.`, `..`, their encoded forms or empty: any of these would send the
    request, and the action's credentials, to another path. Values in the query are free.
    """
    # The host holds no placeholders (config refuses them): what follows it is path and query.
    head = _ORIGIN.match(text)
    cut = head.end() if head else 0
    out = [text[:cut]]
    names: list[str] = []  # the placeholders in the path segment being read
    plain: list[str] = []  # that segment, decoded
    in_path = True

    def end_segment() -> None:
        segment = "".join(plain)
        step = segment.split(";", 1)[0]  # `..;x` is `..` to some servers (path parameters)
        if names and step in ("", ".", ".."):
            shown = repr(segment) if segment else "empty"
            raise Refused(
                names[-1],
                f"would make a URL path segment {shown}, which changes the path the request "
                "goes to",
            )
        names.clear()
        plain.clear()

    for literal, field in _parts(text[cut:]):
        out.append(literal)
        for char in literal if in_path else "":
            if char in "?#":
                end_segment()
                in_path = False
                break
            if char == "/":
                end_segment()
            else:
                plain.append(char)
        if field is None:
            continue
        value = values[field]
        if in_path:
            decoded = _decoded(value)
            if "/" in decoded or "\\" in decoded:
                raise Refused(field, f"{value[:100]!r} holds a slash; it goes in a URL path")
            names.append(field)
            plain.append(decoded)
        out.append(quote(value, safe=""))
    if in_path:
        end_segment()
    return "".join(out)


def fill_argv(item: str, values: Mapping[str, str], dash_allowed: Iterable[str] = ()) -> str:
    """Return one argv item filled; refuse a value that would start it with `-` (an option)."""
    allowed = set(dash_allowed)
    out: list[str] = []
    for literal, field in _parts(item):
        out.append(literal)
        if field is None:
            continue
        value = values[field]
        starts = not "".join(out)
        if starts and value.startswith("-") and field not in allowed:
            raise Refused(
                field,
                f"{value[:100]!r} starts with '-' and would start an argument, where the "
                "program would take it for an option (a param may allow this with "
                "allow_leading_dash: true)",
            )
        out.append(value)
    return "".join(out)
