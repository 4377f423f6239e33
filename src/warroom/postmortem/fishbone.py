"""The fishbone (Ishikawa) diagram as hand-written SVG: a spine to the effect, bones of causes."""

from __future__ import annotations

from warroom.postmortem.formatting import FONT, clean, short

COLUMN = 270  # horizontal room per bone for its labels, plus its slant
ROW = 24  # vertical room per cause
LEFT = 24
EFFECT_WIDTH = 240
LABEL_MAX = 36  # characters of a cause shown; the full text is in the <title> tooltip
EFFECT_LINE = 28


def _label(x: float, y: float, text: str, extra: str = "") -> str:
    """Return a text element showing `text` shortened, with the whole text as its tooltip."""
    return (
        f"<text x='{x:.0f}' y='{y:.0f}' {FONT} font-size='13'{extra}>"
        f"<title>{clean(text)}</title>{clean(short(text, LABEL_MAX))}</text>"
    )


def _wrap(text: str, width: int = EFFECT_LINE, lines: int = 3) -> list[str]:
    """Split `text` into at most `lines` lines of about `width` characters."""
    out: list[str] = []
    current = ""
    for word in " ".join(text.split()).split(" "):
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = short(out[-1] + " …", width)
    return [short(line, width) for line in out]


def render(effect: str, bones: dict[str, list[str]]) -> str:
    """Return an SVG document: the effect (incident title) at the head, one bone per category."""
    names = list(bones) or ["Causes"]
    top, bottom = names[0::2], names[1::2]
    columns = max(len(top), len(bottom), 1)
    most = max((len(bones.get(name, [])) for name in names), default=0)
    reach = 48 + ROW * max(most, 1)  # how far a bone reaches from the spine
    spine_y = 40 + reach
    column_width = COLUMN + reach // 2
    head_x = LEFT + columns * column_width + 20
    width = head_x + EFFECT_WIDTH + LEFT
    height = spine_y + reach + 44
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img'>",
        f"<title>Fishbone: {clean(effect)}</title>",
        f"<rect width='{width}' height='{height}' fill='#ffffff'/>",
        f"<line x1='{LEFT}' y1='{spine_y}' x2='{head_x}' y2='{spine_y}' "
        "stroke='#333' stroke-width='3'/>",
        f"<polygon points='{head_x},{spine_y - 8} {head_x + 14},{spine_y} {head_x},{spine_y + 8}'"
        " fill='#333'/>",
    ]
    for side, group in ((-1, top), (1, bottom)):
        for column, name in enumerate(group):
            parts += _bone(name, bones.get(name, []), column * column_width, side, spine_y, reach)
    box_x, box_y = head_x + 16, spine_y - 36
    parts.append(
        f"<rect x='{box_x}' y='{box_y}' width='{EFFECT_WIDTH - 16}' height='72' rx='6' "
        "fill='#fdecea' stroke='#b3261e' stroke-width='2'/>"
    )
    lines = _wrap(effect)
    first = spine_y + 5 - 8 * (len(lines) - 1)
    for index, line in enumerate(lines):
        parts.append(
            f"<text x='{box_x + 10}' y='{first + 16 * index}' {FONT} font-size='14' "
            f"font-weight='bold'>{clean(line)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _bone(
    name: str, causes: list[str], offset: int, side: int, spine_y: int, reach: int
) -> list[str]:
    """Return the elements of one category's bone: the slanted line, its name, its causes."""
    start_x = LEFT + offset + 16
    join_x = start_x + reach * 0.5  # where the bone meets the spine
    tip_y = spine_y + side * reach
    parts = [
        "<g class='bone'>",
        f"<line x1='{start_x}' y1='{tip_y}' x2='{join_x:.0f}' y2='{spine_y}' "
        "stroke='#555' stroke-width='2'/>",
        _label(start_x - 4, tip_y + (18 if side > 0 else -8), name, " font-weight='bold'"),
    ]
    for index, cause in enumerate(causes):
        share = (index + 1) / (len(causes) + 1)
        x = start_x + (join_x - start_x) * share
        y = tip_y + (spine_y - tip_y) * share
        parts.append(
            f"<line x1='{x:.0f}' y1='{y:.0f}' x2='{x + 16:.0f}' y2='{y:.0f}' stroke='#888'/>"
        )
        parts.append(_label(x + 20, y + 4, cause))
    parts.append("</g>")
    return parts
