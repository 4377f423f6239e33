"""The incident's timeline as hand-written SVG: phases as bands on a time axis, key events above.

Impact (started → detected), triage (detected → triaged), mitigation (triaged → mitigated)
and verification (mitigated → resolved) are coloured bands labelled with their durations;
the milestones are marked on the axis with their times; starred events sit above it, each
with its text as a tooltip, in rows so that labels do not overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from warroom.postmortem.formatting import FONT, clean, short, span
from warroom.postmortem.schemas import TimelineSection

Scale = Callable[[datetime], float]
WIDTH = 960
LEFT, RIGHT = 40, 40
AXIS_Y_OFFSET = 40  # below the key-event rows
BAND_HEIGHT = 30
ROW = 20  # vertical room per row of key-event labels
LABEL_MAX = 44  # characters of a key event shown; the whole text is its tooltip
CHAR_WIDTH = 7.2  # a generous width of a 12px system-ui character, for overlap checks
# (phase, from milestone, to milestone, fill colour)
PHASES = (
    ("Impact before detection", "started", "detected", "#e8e8e8"),
    ("Triage", "detected", "triaged", "#fde293"),
    ("Mitigation", "triaged", "mitigated", "#f9ab73"),
    ("Verification", "mitigated", "resolved", "#a8dab5"),
)
MARKS = (
    ("started", "Impact began"),
    ("detected", "Detected"),
    ("acknowledged", "Acknowledged"),
    ("triaged", "Triaged"),
    ("mitigated", "Mitigated"),
    ("resolved", "Resolved"),
)
# Tick spacings to choose from, smallest first; about eight ticks fit the axis.
STEPS = [timedelta(minutes=m) for m in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880)]


def _ticks(first: datetime, last: datetime) -> list[datetime]:
    """Return round times between `first` and `last`, about eight of them."""
    total = last - first
    step = next((s for s in STEPS if total / s <= 8), STEPS[-1])
    epoch = datetime(2000, 1, 1, tzinfo=first.tzinfo)
    tick = epoch + step * -(-(first - epoch) // step)  # the first multiple of step ≥ first
    found = []
    while tick <= last:
        found.append(tick)
        tick += step
    return found


def render(title: str, timeline: TimelineSection) -> str:
    """Return an SVG document of the incident's phases, milestones and key events."""
    stamps = {name: getattr(timeline.milestones, name) for name, _ in MARKS}
    events = [e for e in timeline.events if e.key_event]
    moments = [t for t in stamps.values() if t is not None] + [e.at for e in events]
    first, last = min(moments), max(moments)
    if last - first < timedelta(minutes=1):
        last = first + timedelta(minutes=1)
    scale = (WIDTH - LEFT - RIGHT) / (last - first).total_seconds()

    def x_of(when: datetime) -> float:
        return float(LEFT + (when - first).total_seconds() * scale)

    labels = [f"★ {short(e.text, LABEL_MAX)}" for e in events]
    placed = [
        _place(x_of(e.at), text, centred=False) for e, text in zip(events, labels, strict=True)
    ]
    rows = _rows(placed)
    top = 44 + ROW * (max(rows, default=-1) + 1)
    axis_y = top + AXIS_Y_OFFSET
    height = axis_y + BAND_HEIGHT + 60 + 16 * len(MARKS)
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
        f"viewBox='0 0 {WIDTH} {height}' role='img'>",
        f"<title>Timeline: {clean(title)}</title>",
        f"<rect width='{WIDTH}' height='{height}' fill='#ffffff'/>",
        f"<text x='{LEFT}' y='24' {FONT} font-size='15' font-weight='bold'>"
        f"{clean(short(title, 110))}</text>",
    ]
    parts += _bands(stamps, x_of, axis_y)
    parts += _axis(first, last, x_of, axis_y)
    parts += _milestones(stamps, x_of, axis_y)
    for event, text, (left, _right), row in zip(events, labels, placed, rows, strict=True):
        x, y = x_of(event.at), 44 + ROW * row
        parts.append(
            f"<g class='key-event'><title>{event.at:%H:%M} {clean(event.text)}</title>"
            f"<line x1='{x:.1f}' y1='{y + 4}' x2='{x:.1f}' y2='{axis_y}' stroke='#bbb' "
            "stroke-dasharray='2 3'/>"
            f"<text x='{left:.1f}' y='{y}' {FONT} font-size='12'>{clean(text)}</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _place(x: float, text: str, *, centred: bool) -> tuple[float, float]:
    """Return where a label about `x` starts and ends, kept inside the picture."""
    width = len(text) * CHAR_WIDTH
    left = x - width / 2 if centred else x - 4
    left = min(max(left, 4.0), WIDTH - 4 - width)
    return left, left + width


def _rows(spans: list[tuple[float, float]]) -> list[int]:
    """Give each label (left, right) the first row where it clears the row's last label."""
    ends: list[float] = []  # per row, where its last label ends
    chosen = []
    for left, right in spans:
        row = next((i for i, end in enumerate(ends) if left > end + 8), len(ends))
        if row == len(ends):
            ends.append(0.0)
        ends[row] = right
        chosen.append(row)
    return chosen


def _bands(stamps: dict[str, datetime | None], x_of: Scale, axis_y: int) -> list[str]:
    """Return one coloured band per phase whose two milestones are known."""
    parts = []
    for name, start, end, colour in PHASES:
        begin, finish = stamps[start], stamps[end]
        if begin is None or finish is None or finish < begin:
            continue
        x1, x2 = x_of(begin), x_of(finish)
        took = span((finish - begin).total_seconds())
        label = f"{name} {took}" if x2 - x1 > (len(name) + 8) * CHAR_WIDTH else took
        shown = f"{clean(label)}" if x2 - x1 > (len(took) + 1) * CHAR_WIDTH else ""
        parts.append(
            f"<g class='phase'><title>{clean(name)}: {took}</title>"
            f"<rect x='{x1:.1f}' y='{axis_y}' width='{max(x2 - x1, 1):.1f}' "
            f"height='{BAND_HEIGHT}' fill='{colour}'/>"
            f"<text x='{(x1 + x2) / 2:.1f}' y='{axis_y + 19}' {FONT} font-size='12' "
            f"text-anchor='middle'>{shown}</text></g>"
        )
    return parts


def _axis(first: datetime, last: datetime, x_of: Scale, axis_y: int) -> list[str]:
    """Return the time axis under the bands, with round-time ticks (UTC)."""
    y = axis_y + BAND_HEIGHT
    parts = [
        f"<line x1='{LEFT}' y1='{y}' x2='{WIDTH - RIGHT}' y2='{y}' stroke='#333' "
        "stroke-width='1.5'/>"
    ]
    many_days = (last - first) >= timedelta(days=1)
    for tick in _ticks(first, last):
        x = x_of(tick)
        text = tick.strftime("%m-%d %H:%M" if many_days else "%H:%M")
        parts.append(
            f"<line x1='{x:.1f}' y1='{y}' x2='{x:.1f}' y2='{y + 5}' stroke='#333'/>"
            f"<text x='{x:.1f}' y='{y + 18}' {FONT} font-size='11' fill='#555' "
            f"text-anchor='middle'>{text}</text>"
        )
    parts.append(
        f"<text x='{WIDTH - RIGHT}' y='{y + 34}' {FONT} font-size='11' fill='#555' "
        "text-anchor='end'>UTC</text>"
    )
    return parts


def _milestones(stamps: dict[str, datetime | None], x_of: Scale, axis_y: int) -> list[str]:
    """Return a diamond per known milestone on the axis, labels in rows that do not overlap."""
    y = axis_y + BAND_HEIGHT
    known = [(name, label, when) for name, label in MARKS if (when := stamps[name]) is not None]
    texts = [f"{label} {when:%H:%M}" for _, label, when in known]
    placed = [
        _place(x_of(when), text, centred=True)
        for (_, _, when), text in zip(known, texts, strict=True)
    ]
    parts = []
    for (name, label, when), text, (left, _), row in zip(
        known, texts, placed, _rows(placed), strict=True
    ):
        x = x_of(when)
        parts.append(
            f"<g class='milestone' data-milestone='{name}'>"
            f"<title>{label} at {when:%Y-%m-%d %H:%M} UTC</title>"
            f"<polygon points='{x:.1f},{y - 6} {x + 6:.1f},{y} {x:.1f},{y + 6} {x - 6:.1f},{y}' "
            "fill='#1a73e8'/>"
            f"<text x='{left:.1f}' y='{y + 50 + 16 * row}' {FONT} font-size='11'>{text}</text></g>"
        )
    return parts
