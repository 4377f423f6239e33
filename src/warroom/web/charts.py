"""Small server-rendered SVG charts: grouped bars and lines, drawn as inline SVG.

Each chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>`; the page puts
the same numbers in a table right below it. Colours come from the stylesheet (classes
`series-0`…`series-3`, both themes); every series also has its own letter under its bars or
its own marker shape on its line, so no series is told by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 280
LEFT = 64  # room for the y axis labels
RIGHT = 16
TOP = 16
BOTTOM = 56  # room for the category labels and the series letters
MARKERS = ("circle", "square", "triangle", "diamond")
LABEL_MAX = 16


@dataclass(frozen=True)
class Series:
    """One named line or bar colour: a value per category (None: no data there)."""

    name: str
    letter: str  # shown under its bars: the series without colour
    values: Sequence[float | None]


def nice_top(value: float) -> float:
    """Return a round number at or above `value` for the top of the y axis."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * power:
            return step * power
    return 10.0 * power  # pragma: no cover  (the loop always returns)


# Steps of a time axis, in seconds: whole minutes, hours and days, never "1h 23m".
TIME_STEPS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 172800, 432000, 864000,
)  # fmt: skip


def nice_time_top(value: float) -> float:
    """Return the top of a time axis in seconds: four ticks of a round step each."""
    for step in TIME_STEPS:
        if value <= step * 4:
            return float(step * 4)
    return nice_top(value)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _frame(
    chart_id: str, title: str, desc: str, top: float, fmt: Callable[[float], str]
) -> list[str]:
    """Return the opening of the SVG with its title, description, grid and y axis labels."""
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>',
    ]
    plot_h = HEIGHT - TOP - BOTTOM
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"
        )
    return parts


def _top(series: Sequence[Series], times: bool) -> float:
    found = max((v for s in series for v in s.values if v is not None), default=0.0)
    return nice_time_top(found) if times else nice_top(found)


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = str,
    *,
    times: bool = False,
) -> Markup:
    """Return a grouped bar chart: one group per category, one bar per series.

    `times`: the values are seconds, and the axis steps are round minutes, hours or days.
    """
    top = _top(series, times)
    parts = _frame(chart_id, title, desc, top, fmt)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    group_w = plot_w / max(len(categories), 1)
    bar_w = min(28.0, group_w * 0.8 / max(len(series), 1))
    for index, category in enumerate(categories):
        start = LEFT + group_w * index + (group_w - bar_w * len(series)) / 2
        for number, each in enumerate(series):
            value = each.values[index] if index < len(each.values) else None
            x = start + bar_w * number
            if value is not None:
                height = plot_h * value / top
                parts.append(
                    f'<rect class="bar series-{number % 4}" x="{x:.1f}" y="{base - height:.1f}" '
                    f'width="{bar_w - 2:.1f}" height="{max(height, 1):.1f}">'
                    f"<title>{escape(category)}, {escape(each.name)}: {escape(fmt(value))}</title>"
                    "</rect>"
                )
            if bar_w >= 10:
                parts.append(
                    f'<text class="letter" x="{x + bar_w / 2 - 1:.1f}" y="{base + 14}" '
                    f'text-anchor="middle">{escape(each.letter)}</text>'
                )
        parts.append(
            f'<text class="axis" x="{LEFT + group_w * (index + 0.5):.1f}" y="{base + 32}" '
            f'text-anchor="middle">{escape(_short(category))}</text>'
        )
    parts.append(
        f'<line class="axis-line" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>'
    )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def _marker(kind: str, x: float, y: float, number: int, label: str) -> str:
    tip = f"<title>{escape(label)}</title>"
    cls = f'class="marker series-{number % 4}"'
    if kind == "circle":
        return f'<circle {cls} cx="{x:.1f}" cy="{y:.1f}" r="4.5">{tip}</circle>'
    if kind == "square":
        return f'<rect {cls} x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8">{tip}</rect>'
    if kind == "triangle":
        points = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y + 4:.1f} {x - 5:.1f},{y + 4:.1f}"
        return f'<polygon {cls} points="{points}">{tip}</polygon>'
    points = f"{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} {x - 5:.1f},{y:.1f}"
    return f'<polygon {cls} points="{points}">{tip}</polygon>'


def line_chart(
    chart_id: str,
    title: str,
    desc: str,
    categories: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = str,
    *,
    times: bool = False,
) -> Markup:
    """Return a line chart: categories along x (months), one line and marker shape per series."""
    top = _top(series, times)
    parts = _frame(chart_id, title, desc, top, fmt)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    step = plot_w / max(len(categories), 1)
    for index, category in enumerate(categories):
        parts.append(
            f'<text class="axis" x="{LEFT + step * (index + 0.5):.1f}" y="{base + 20}" '
            f'text-anchor="middle">{escape(_short(category))}</text>'
        )
    for number, each in enumerate(series):
        points = []
        for index, value in enumerate(each.values):
            if value is None:
                continue
            x = LEFT + step * (index + 0.5)
            y = base - plot_h * value / top
            points.append((x, y, f"{categories[index]}, {each.name}: {fmt(value)}"))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
            parts.append(
                f'<polyline class="line series-{number % 4} dash-{number % 4}" points="{path}"/>'
            )
        kind = MARKERS[number % len(MARKERS)]
        parts += [_marker(kind, x, y, number, label) for x, y, label in points]
    parts.append(
        f'<line class="axis-line" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>'
    )
    parts.append("</svg>")
    return Markup("\n".join(parts))


def legend(series: Sequence[Series], *, lines: bool = False) -> Markup:
    """Return the chart's key: each series' swatch, letter or marker, and name."""
    items = []
    for number, each in enumerate(series):
        shape = MARKERS[number % len(MARKERS)] if lines else "bar"
        items.append(
            f'<li><svg class="swatch" viewBox="0 0 12 12" aria-hidden="true">'
            f"{_marker(shape, 6, 6, number, each.name) if lines else _swatch(number)}</svg> "
            f"{'' if lines else f'<b>{escape(each.letter)}</b> '}{escape(each.name)}</li>"
        )
    return Markup(f'<ul class="legend">{"".join(items)}</ul>')


def _swatch(number: int) -> str:
    return f'<rect class="bar series-{number % 4}" x="0" y="0" width="12" height="12"/>'
