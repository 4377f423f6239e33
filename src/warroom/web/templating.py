"""The pages' Jinja2 environment and the filters that turn values into words for people."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from warroom.core.text import show_bidi

WEB = Path(__file__).resolve().parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
UTC = ZoneInfo("UTC")

# A shape per severity rank as well as a colour: severity is never told by colour alone.
SEVERITY_ICONS = ("◆", "▲", "●", "■", "○")
STATUS_WORDS = {
    "detected": "Detected",
    "triaged": "Triaged",
    "mitigated": "Mitigated",
    "resolved": "Resolved",
    "closed": "Closed",
}
# The runbook's phases in order: (label, the status that ends the phase).
PHASES = (
    ("Detect", "detected"),
    ("Triage", "triaged"),
    ("Mitigate", "mitigated"),
    ("Resolve", "resolved"),
    ("Postmortem", "closed"),
)


@cache
def environment() -> Environment:
    """Return the environment of the signed-in pages (autoescaped: people type every text)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=shown,
    )
    env.filters["when"] = when
    env.filters["typed"] = typed
    env.filters["tplus"] = tplus
    env.filters["duration"] = duration
    env.filters["age"] = age
    env.filters["utc"] = utc
    env.filters["status_word"] = lambda value: STATUS_WORDS.get(value, str(value).title())
    env.globals["static"] = static_url
    env.globals["PHASES"] = PHASES
    return env


class Typed(str):
    """Text put back into a form field as it was typed: its bidi controls stay as they are."""


def typed(value: object) -> Typed:
    """Mark a form field's value (`value="…"`, a textarea) to keep its bidi controls.

    Inside a field they reorder nothing outside it, and saving the form must store what was
    there, not the `{U+202E}` markers the rest of the page shows.
    """
    return Typed("" if value is None else str(value))


def shown(value: object) -> object:
    """Show the bidi controls in a value a page prints (Jinja's `finalize`), escaped or not."""
    # Every `{{ … }}` passes here, so no page can forget: a control in a title would
    # otherwise reorder the text around it unseen. Markup stays Markup: the marker is plain.
    if isinstance(value, Typed):
        return str(value)
    if isinstance(value, Markup):
        return Markup(show_bidi(str(value)))
    if isinstance(value, str):
        return show_bidi(value)
    return value


@cache
def static_url(name: str) -> str:
    """Return the URL of a static file with its content's hash, so it may be cached for long."""
    version = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={version}"


def zone_named(name: str | None) -> ZoneInfo:
    """Return the IANA zone `name`, or UTC when it is empty or unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # not a zone name (or a path trick): fall back
        return UTC


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@pass_context
def when(context: Context, value: datetime | None, style: str = "long") -> Markup:
    """Render a time as `<time>` in the viewer's zone, with UTC on hover."""
    if value is None:
        return Markup("—")
    zone: ZoneInfo = context.get("zone", UTC)
    utc = value.astimezone(UTC)
    local = utc if zone is UTC else utc.astimezone(zone)
    # Built by hand, not with strftime and Markup.format: a room shows 500 of these, and
    # every part is a number or a zone's abbreviation (escaped all the same).
    if style == "short":
        shown = f"{local.hour:02d}:{local.minute:02d}"
    else:
        shown = (
            f"{local.day} {MONTHS[local.month - 1]} {local.year}, "
            f"{local.hour:02d}:{local.minute:02d} {escape(local.tzname() or '')}"
        )
    title = (
        f"{utc.day} {MONTHS[utc.month - 1]} {utc.year}, "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d} UTC"
    )
    stamp = utc.isoformat().replace("+00:00", "Z")
    return Markup(f'<time datetime="{stamp}" title="{title}">{shown}</time>')


def utc(value: datetime | None) -> Markup:
    """Render a time as `<time>` in UTC to the second, as the timeline's texts write it."""
    if value is None:
        return Markup("—")
    moment = value.astimezone(UTC)
    stamp = moment.isoformat().replace("+00:00", "Z")
    return Markup(f'<time datetime="{stamp}">{moment:%Y-%m-%d %H:%M:%S} UTC</time>')


def duration(seconds: float | timedelta | None) -> str:
    """Say a length of time in two units at most: `2d 4h`, `1h 12m`, `45s`."""
    if seconds is None:
        return "—"
    total = int(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds)
    if total < 0:
        total = 0
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s" if minutes < 10 and secs else f"{minutes}m"
    return f"{secs}s"


@pass_context
def age(context: Context, value: datetime | None) -> str:
    """Say how long ago `value` was, from the page's `now`."""
    if value is None:
        return "—"
    now: datetime = context["now"]
    return duration(now - value)


def tplus(value: datetime | None, detected: datetime) -> str:
    """Say a time relative to detection, as responders count it: `T+12m`, `T−3m`."""
    if value is None:
        return ""
    delta = (value - detected).total_seconds()
    sign = "+" if delta >= 0 else "−"
    return f"T{sign}{duration(abs(delta))}"


def severity_badge(name: str, rank: int, description: str | None = None) -> Markup:
    """Render a severity as icon and text, with a class for its colour."""
    icon = SEVERITY_ICONS[min(rank, len(SEVERITY_ICONS) - 1)]
    title = f' title="{escape(description)}"' if description else ""
    return Markup(
        f'<span class="sev sev-{rank}"{title}><span aria-hidden="true">{icon}</span> '
        f"{escape(name)}</span>"
    )
