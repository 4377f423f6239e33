"""The filters that turn values into words: times in the viewer's zone, durations, T+."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from warroom.web.templating import duration, environment, tplus, zone_named

NEW_YORK = ZoneInfo("America/New_York")


def render_when(value: datetime | None, zone: ZoneInfo, style: str = "long") -> str:
    """Render `value|when(style)` as a page would, for a viewer in `zone`."""
    template = environment().from_string("{{ value|when(style) }}")
    return template.render(value=value, zone=zone, style=style)


@pytest.mark.parametrize(
    ("at", "shown"),
    [
        # Winter and summer: the zone's abbreviation follows daylight saving.
        (datetime(2026, 1, 5, 14, 7, 9, tzinfo=UTC), "5 Jan 2026, 09:07 EST"),
        (datetime(2026, 7, 5, 14, 7, 9, tzinfo=UTC), "5 Jul 2026, 10:07 EDT"),
    ],
)
def test_a_time_is_shown_in_the_viewers_zone_with_utc_on_hover(at: datetime, shown: str) -> None:
    html = render_when(at, NEW_YORK)
    stamp = at.isoformat().replace("+00:00", "Z")
    title = f"{at.day} {at:%b %Y, %H:%M:%S} UTC"
    assert html == f'<time datetime="{stamp}" title="{title}">{shown}</time>'


def test_short_times_and_missing_ones() -> None:
    at = datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # the night New York springs forward
    assert render_when(at, NEW_YORK, "short").endswith(">01:30</time>")
    assert render_when(at + timedelta(hours=1), NEW_YORK, "short").endswith(">03:30</time>")
    assert render_when(None, NEW_YORK) == "—"


def test_an_unknown_or_hostile_zone_name_falls_back_to_utc() -> None:
    assert zone_named("Mars/Olympus") is zone_named(None)
    assert zone_named("../../etc/passwd").key == "UTC"
    html = render_when(datetime(2026, 1, 5, 14, 7, tzinfo=UTC), zone_named("nowhere"))
    assert ">5 Jan 2026, 14:07 UTC</time>" in html


def test_durations_and_t_plus() -> None:
    assert [duration(s) for s in (45, 130, 4320, 200_000)] == ["45s", "2m 10s", "1h 12m", "2d 7h"]
    detected = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
    assert tplus(detected + timedelta(minutes=12), detected) == "T+12m"
    assert tplus(detected - timedelta(minutes=3), detected) == "T−3m"
