"""Who is on call: local wall-clock handoffs across DST, restrictions, overrides, shift lists."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.oncall.config import WEEKDAYS, Override, Schedule
from warroom.oncall.rotation import Shift, on_call, resolve_local, shifts

H = timedelta(hours=1)
PEOPLE = ["alice", "bob", "carol"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return an aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make(zone: str, *layers: dict[str, Any], sid: str = "payments") -> Schedule:
    """Build a schedule from rotation dicts (layer names primary, secondary, …)."""
    names = ["primary", "secondary", "tertiary"]
    return Schedule.model_validate(
        {
            "id": sid,
            "timezone": zone,
            "layers": [{"name": names[i], "rotation": r} for i, r in enumerate(layers)],
        }
    )


def rotation(every: str = "1d", handoff: str = "09:00", **extra: Any) -> dict[str, Any]:
    """Return a rotation dict of alice, bob and carol."""
    return {"participants": PEOPLE, "every": every, "handoff": handoff, **extra}


def starting(found: list[Shift], at: datetime) -> Shift:
    """Return the one shift that starts at `at`."""
    [shift] = [s for s in found if s.start == at]
    return shift


def local(moment: datetime, zone: str) -> str:
    """Return the local wall time of an instant as 'YYYY-MM-DD HH:MM'."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# (zone, the handoff before the change in UTC, the one after, its length in hours)
DAILY_0900 = [
    ("America/New_York", utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), 23),
    ("America/New_York", utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), 25),
    ("Europe/Berlin", utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), 23),
    ("Europe/Berlin", utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), 25),
]


@pytest.mark.parametrize(("zone", "before", "after", "hours"), DAILY_0900)
def test_daily_0900_handoff_stays_at_0900_local(
    zone: str, before: datetime, after: datetime, hours: int
) -> None:
    sched = make(zone, rotation())
    found = shifts(sched, before - 2 * H, after + 30 * H)
    middle = starting(found, before)
    assert middle.end == after
    assert middle.duration == hours * H
    assert local(middle.start, zone)[-5:] == local(middle.end, zone)[-5:] == "09:00"
    assert starting(found, after).duration == 24 * H
    assert found[0].end == before and found[-1].start == after + 24 * H
    # who is on call flips exactly at the handoff instants
    assert on_call(sched, before - timedelta(seconds=1)) != on_call(sched, before)
    assert on_call(sched, after - timedelta(seconds=1))["primary"] == [middle.person]
    assert on_call(sched, after) != on_call(sched, after - timedelta(microseconds=1))


def test_daily_rotation_order_from_start() -> None:
    sched = make("America/New_York", rotation())  # counts from Mon 2026-01-05 09:00 local
    assert on_call(sched, utc(2026, 1, 5, 14)) == {"primary": ["alice"]}
    assert on_call(sched, utc(2026, 1, 5, 13, 59)) == {"primary": ["carol"]}  # extends backwards
    assert on_call(sched, utc(2026, 1, 6, 14)) == {"primary": ["bob"]}
    # 2026-03-08 is day 62 (62 % 3 == 2): carol from 09:00 EDT
    assert on_call(sched, utc(2026, 3, 8, 12, 59)) == {"primary": ["bob"]}
    assert on_call(sched, utc(2026, 3, 8, 13)) == {"primary": ["carol"]}


# a handoff at 02:30 local: in the spring-forward gap, and in the fall-back repeated hour
GAP_0230 = [
    # zone, three consecutive handoffs in UTC (the middle one is on the change day)
    ("America/New_York", utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7), utc(2026, 3, 9, 6, 30)),
    ("Europe/Berlin", utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1), utc(2026, 3, 30, 0, 30)),
    ("Europe/Berlin", utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),
]


@pytest.mark.parametrize(("zone", "first", "second", "third"), GAP_0230)
def test_handoff_at_0230_on_change_days(
    zone: str, first: datetime, second: datetime, third: datetime
) -> None:
    sched = make(zone, rotation(handoff="02:30"))
    found = shifts(sched, first, third + H)
    assert [(s.start, s.end) for s in found] == [
        (first, second),
        (second, third),
        (third, third + H),
    ]
    assert local(first, zone)[-5:] == local(third, zone)[-5:] == "02:30"
    if second.month == 3:  # 02:30 does not exist: the first instant after the gap, 03:00
        assert local(second, zone)[-5:] == "03:00"
        assert found[0].duration == found[1].duration == timedelta(hours=23, minutes=30)
    else:  # 02:30 happens twice: the first one (summer time)
        assert local(second, zone)[-5:] == "02:30"
        assert second.astimezone(ZoneInfo(zone)).utcoffset() == 2 * H
        assert (found[0].duration, found[1].duration) == (24 * H, 25 * H)


def test_fall_back_0130_new_york_takes_the_first_occurrence() -> None:
    sched = make("America/New_York", rotation(handoff="01:30"))
    found = shifts(sched, utc(2026, 10, 31, 5, 30), utc(2026, 11, 2, 6, 30))
    assert [s.start for s in found] == [utc(2026, 10, 31, 5, 30), utc(2026, 11, 1, 5, 30)]
    assert [s.duration for s in found] == [24 * H, 25 * H]
    # 01:15 EST (06:15 UTC) comes after the 01:30 EDT handoff although its wall time is earlier
    assert on_call(sched, utc(2026, 11, 1, 6, 15)) == on_call(sched, utc(2026, 11, 1, 5, 30))
    assert on_call(sched, utc(2026, 11, 1, 5, 29)) != on_call(sched, utc(2026, 11, 1, 5, 30))


def test_resolve_local_gap_and_fold() -> None:
    ny = ZoneInfo("America/New_York")
    assert resolve_local(datetime(2026, 3, 8, 2, 30), ny) == utc(2026, 3, 8, 7)
    assert resolve_local(datetime(2026, 3, 8, 2, 0), ny) == utc(2026, 3, 8, 7)
    assert resolve_local(datetime(2026, 3, 8, 3, 0), ny) == utc(2026, 3, 8, 7)
    assert resolve_local(datetime(2026, 3, 8, 1, 59), ny) == utc(2026, 3, 8, 6, 59)
    assert resolve_local(datetime(2026, 11, 1, 1, 30, fold=1), ny) == utc(2026, 11, 1, 5, 30)
    assert resolve_local(datetime(2026, 11, 1, 2, 0), ny) == utc(2026, 11, 1, 7)
    # Lord Howe Island moves its clocks by 30 minutes
    assert resolve_local(datetime(2026, 10, 4, 2, 10), ZoneInfo("Australia/Lord_Howe")) == utc(
        2026, 10, 3, 15, 30
    )


@pytest.mark.parametrize(
    ("zone", "monday", "next_monday", "hours"),
    [
        ("America/New_York", utc(2026, 3, 2, 14), utc(2026, 3, 9, 13), 167),
        ("America/New_York", utc(2026, 10, 26, 13), utc(2026, 11, 2, 14), 169),
        ("Europe/Berlin", utc(2026, 3, 23, 8), utc(2026, 3, 30, 7), 167),
        ("Europe/Berlin", utc(2026, 10, 19, 7), utc(2026, 10, 26, 8), 169),
    ],
)
def test_weekly_monday_0900(zone: str, monday: datetime, next_monday: datetime, hours: int) -> None:
    sched = make(zone, rotation(every="1w", handoff="Mon 09:00"))
    found = shifts(sched, monday, next_monday + H)
    assert [(s.start, s.end) for s in found] == [
        (monday, next_monday),
        (next_monday, next_monday + H),
    ]
    assert found[0].duration == hours * H
    assert local(monday, zone)[-5:] == local(next_monday, zone)[-5:] == "09:00"
    assert monday.astimezone(ZoneInfo(zone)).weekday() == 0


def test_two_weekly_with_weekday_handoff_and_later_start() -> None:
    sched = make("Europe/Berlin", rotation(every="2w", handoff="Wed 18:00", start="2026-02-05"))
    # 2026-02-05 is a Thursday: alice starts Wed 2026-02-11 18:00 CET, bob two weeks later
    assert on_call(sched, utc(2026, 2, 11, 17)) == {"primary": ["alice"]}
    assert on_call(sched, utc(2026, 2, 25, 16, 59)) == {"primary": ["alice"]}
    assert on_call(sched, utc(2026, 2, 25, 17)) == {"primary": ["bob"]}
    assert on_call(sched, utc(2026, 2, 11, 16, 59)) == {"primary": ["carol"]}


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        # 12h steps count wall-clock time from 09:00: 09:00 and 21:00 local every day
        ("America/New_York", utc(2026, 3, 7, 12), [2, 12, 11, 12, 11]),
        ("America/New_York", utc(2026, 10, 31, 12), [1, 12, 13, 12, 10]),
        ("Europe/Berlin", utc(2026, 3, 28, 0), [8, 12, 11, 12, 5]),
    ],
)
def test_twelve_hour_rotation(zone: str, day: datetime, expected: list[int]) -> None:
    sched = make(zone, rotation(every="12h"))
    found = shifts(sched, day, day + 2 * 24 * H)
    assert [s.duration / H for s in found] == expected
    assert {local(s.start, zone)[-5:] for s in found[1:]} <= {"09:00", "21:00"}
    assert [s.person for s in found][1:4] in (PEOPLE[i:] + PEOPLE[:i] for i in range(3))


def test_weekday_restriction() -> None:
    office = {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "09:00", "end": "17:00"}
    sched = make("Europe/Berlin", rotation(restrictions=[office]), rotation(every="1w"))
    assert on_call(sched, utc(2026, 6, 6, 10))["primary"] == []  # Saturday noon
    assert on_call(sched, utc(2026, 6, 6, 10))["secondary"] != []
    assert on_call(sched, utc(2026, 6, 8, 7))["primary"] != []  # Monday 09:00 CEST
    assert on_call(sched, utc(2026, 6, 8, 15))["primary"] == []  # Monday 17:00 CEST
    week = shifts(sched, utc(2026, 6, 7, 22), utc(2026, 6, 14, 22), layer="primary")
    assert [(local(s.start, "Europe/Berlin"), s.duration) for s in week] == [
        (f"2026-06-{day:02d} 09:00", 8 * H) for day in range(8, 13)
    ]
    assert len({s.person for s in week}) == 3


def test_night_restriction_crossing_midnight_and_dst() -> None:
    night = {"weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri"], "start": "18:00", "end": "09:00"}
    sched = make("Europe/Berlin", rotation(restrictions=[night]))
    assert on_call(sched, utc(2026, 3, 27, 22))["primary"] != []  # Friday 23:00 CET
    assert on_call(sched, utc(2026, 3, 28, 7, 59))["primary"] != []  # Saturday 08:59
    assert on_call(sched, utc(2026, 3, 28, 8))["primary"] == []  # Saturday 09:00
    assert on_call(sched, utc(2026, 3, 28, 19))["primary"] == []  # Saturday night: not listed
    assert on_call(sched, utc(2026, 3, 30, 6))["primary"] == []  # Monday 08:00: Sunday's night
    assert on_call(sched, utc(2026, 3, 30, 16))["primary"] != []  # Monday 18:00 CEST
    week = shifts(sched, utc(2026, 3, 23), utc(2026, 3, 30, 23))
    assert [local(s.start, "Europe/Berlin") for s in week] == [
        f"2026-03-{day} 18:00" for day in (23, 24, 25, 26, 27, 30)
    ]
    assert {local(s.end, "Europe/Berlin")[-5:] for s in week[:-1]} == {"09:00"}
    assert [s.duration / H for s in week] == [15, 15, 15, 15, 15, 7]
    # every window here begins after a 09:00 handoff, so each belongs to one person in turn
    assert [s.person for s in week[:3]] in (PEOPLE[i:] + PEOPLE[:i] for i in range(3))
    every_night = make("Europe/Berlin", rotation(restrictions=[{"start": "18:00", "end": "09:00"}]))
    [change] = shifts(every_night, utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    assert (change.start, change.end, change.duration) == (
        utc(2026, 3, 28, 17),
        utc(2026, 3, 29, 7),
        14 * H,
    )


NY = "America/New_York"


def override(
    start: datetime, end: datetime, person: str, mode: str = "replace", **kw: str
) -> Override:
    """Return an override of payments/primary unless told otherwise."""
    where = {"schedule": "payments", "layer": "primary", **kw}
    return Override(start=start, end=end, person=person, mode=mode, **where)  # type: ignore[arg-type]


def test_replace_override_splits_a_shift() -> None:
    sched = make(NY, rotation())
    day = utc(2026, 6, 1, 13)  # alice's shift (day 147 % 3 == 0) from 09:00 EDT
    ov = override(day + 3 * H, day + 6 * H, "dave")
    assert on_call(sched, day + 4 * H, [ov]) == {"primary": ["dave"]}
    assert on_call(sched, day + 6 * H, [ov]) == {"primary": ["alice"]}
    found = shifts(sched, day, day + 24 * H, [ov])
    assert [(s.person, s.start, s.end) for s in found] == [
        ("alice", day, day + 3 * H),
        ("dave", day + 3 * H, day + 6 * H),
        ("alice", day + 6 * H, day + 24 * H),
    ]


def test_add_override_runs_alongside() -> None:
    sched = make(NY, rotation())
    day = utc(2026, 6, 1, 13)
    ov = override(day + 3 * H, day + 30 * H, "dave", mode="add")
    assert on_call(sched, day + 4 * H, [ov]) == {"primary": ["alice", "dave"]}
    found = shifts(sched, day, day + 48 * H, [ov])
    assert [(s.person, s.start, s.end) for s in found] == [
        ("alice", day, day + 24 * H),
        ("dave", day + 3 * H, day + 30 * H),
        ("bob", day + 24 * H, day + 48 * H),
    ]


def test_override_across_handoff_and_merging_the_same_person() -> None:
    sched = make(NY, rotation())
    day = utc(2026, 6, 1, 13)
    # alice keeps the pager two hours past her handoff: one longer shift, bob starts later
    ov = override(day + 24 * H, day + 26 * H, "alice")
    found = shifts(sched, day, day + 48 * H, [ov])
    assert [(s.person, s.start, s.end) for s in found] == [
        ("alice", day, day + 26 * H),
        ("bob", day + 26 * H, day + 48 * H),
    ]


def test_overlapping_replaces_latest_start_wins_and_scoping() -> None:
    sched = make(NY, rotation(), rotation(every="1w"))
    day = utc(2026, 6, 1, 13)
    week = override(day, day + 72 * H, "erin")
    afternoon = override(day + 3 * H, day + 5 * H, "dave")
    elsewhere = [
        override(day, day + 72 * H, "zed", schedule="other"),
        override(day, day + 72 * H, "yan", layer="tertiary"),
    ]
    for order in ([week, afternoon], [afternoon, week]):
        now = on_call(sched, day + 4 * H, [*order, *elsewhere])
        assert now["primary"] == ["dave"]
        assert now["secondary"] == on_call(sched, day + 4 * H)["secondary"]
    assert on_call(sched, day + 6 * H, [week, afternoon])["primary"] == ["erin"]
    found = shifts(sched, day, day + 24 * H, [week, afternoon, *elsewhere], layer="primary")
    assert [s.person for s in found] == ["erin", "dave", "erin"]


def test_overrides_apply_outside_restriction_windows() -> None:
    office = {"weekdays": ["Mon"], "start": "09:00", "end": "17:00"}
    sched = make(NY, rotation(restrictions=[office]))
    saturday = utc(2026, 6, 6, 16)
    assert on_call(sched, saturday)["primary"] == []
    cover = override(saturday, saturday + 2 * H, "dave")
    join = override(saturday, saturday + H, "erin", mode="add")
    assert on_call(sched, saturday, [cover, join])["primary"] == ["dave", "erin"]
    found = shifts(sched, saturday - H, saturday + 3 * H, [cover, join])
    assert [(s.person, s.duration) for s in found] == [("dave", 2 * H), ("erin", H)]


def test_a_year_of_daily_shifts_is_continuous() -> None:
    sched = make("Europe/Berlin", rotation())
    start, end = utc(2026, 1, 1), utc(2027, 1, 1)
    found = shifts(sched, start, end)
    assert len(found) == 366  # 365 handoffs in the year
    assert found[0].start == start and found[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(found))
    assert all(a.person != b.person for a, b in pairwise(found))
    inner = [s.duration / H for s in found[1:-1]]
    assert sorted(set(inner)) == [23, 24, 25]
    assert (inner.count(23), inner.count(25)) == (1, 1)
    assert {local(s.start, "Europe/Berlin")[-5:] for s in found[1:]} == {"09:00"}


def test_a_year_of_weekly_shifts_with_two_layers_sorted() -> None:
    sched = make(
        NY, rotation(every="1w", handoff="Mon 09:00"), rotation(every="1w", handoff="Mon 09:00")
    )
    found = shifts(sched, utc(2026, 1, 1), utc(2027, 1, 1))
    assert len(found) == 2 * 53  # 52 Monday handoffs, plus the partial first week
    assert found == sorted(found, key=lambda s: (s.start, s.layer))
    assert [s.layer for s in found[:2]] == ["primary", "secondary"]


def test_single_participant_is_one_shift_and_edge_cases() -> None:
    sched = make(NY, {"participants": ["alice"], "every": "1d"})
    assert shifts(sched, utc(2026, 1, 1), utc(2026, 12, 1)) == [
        Shift("payments", "primary", "alice", utc(2026, 1, 1), utc(2026, 12, 1))
    ]
    assert shifts(sched, utc(2026, 2, 1), utc(2026, 1, 1)) == []
    with pytest.raises(ValueError, match="no layer 'nope'"):
        shifts(sched, utc(2026, 1, 1), utc(2026, 2, 1), layer="nope")
    with pytest.raises(ValueError, match="at must be timezone-aware"):
        on_call(sched, datetime(2026, 1, 1))
    berlin = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("Europe/Berlin"))
    assert on_call(sched, berlin) == {"primary": ["alice"]}
    [shift] = shifts(sched, berlin, berlin + H)
    assert shift.start == utc(2026, 6, 1, 10) and shift.start.tzinfo is UTC


def test_hourly_rotation_skips_the_hour_lost_to_the_gap() -> None:
    sched = make(NY, {"participants": ["a", "b"], "every": "1h", "handoff": "00:00"})
    found = shifts(sched, utc(2026, 3, 8, 5), utc(2026, 3, 8, 9))
    # 00:00 a, 01:00 b, 02:00 a (does not exist: no length), 03:00 b joins 01:00's, 04:00 a
    assert [(s.person, s.duration) for s in found] == [("a", H), ("b", 2 * H), ("a", H)]
    assert on_call(sched, utc(2026, 3, 8, 7)) == {"primary": ["b"]}


# Properties over random schedules, instants and overrides (zones chosen for odd DST rules).
ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "America/St_Johns",
    "UTC",
]
TRANSITIONS = [
    utc(2026, 3, 8, 7),
    utc(2026, 11, 1, 6),
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
    utc(2026, 4, 4, 15),  # Lord Howe, 30 minutes back
    utc(2026, 9, 6, 4),  # Santiago, spring forward at midnight
]
clock = st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59))
instants = st.one_of(
    st.datetimes(datetime(2025, 6, 1), datetime(2027, 6, 1), timezones=st.just(UTC)),
    st.builds(
        lambda base, seconds: base + timedelta(seconds=seconds),
        st.sampled_from(TRANSITIONS),
        st.integers(-2 * 86_400, 2 * 86_400),
    ),
)
restriction = st.fixed_dictionaries(
    {
        "weekdays": st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
        "start": clock,
        "end": clock,
    }
).filter(lambda r: r["start"] != r["end"])


@st.composite
def schedules(draw: st.DrawFn, restricted: bool = True) -> Schedule:
    """Draw a schedule of one to three layers."""
    layers = []
    for _ in range(draw(st.integers(1, 3))):
        every = draw(st.sampled_from(["1h", "5h", "12h", "1d", "3d", "1w", "2w"]))
        handoff = draw(clock)
        if every.endswith("w") and draw(st.booleans()):
            handoff = f"{draw(st.sampled_from(WEEKDAYS))} {handoff}"
        rot = rotation(every, handoff, start=draw(st.dates(date(2025, 1, 1), date(2027, 1, 1))))
        rot["participants"] = draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4))
        if restricted:
            rot["restrictions"] = draw(st.lists(restriction, max_size=2))
        layers.append(rot)
    return make(draw(st.sampled_from(ZONES)), *layers)


@st.composite
def overrides(draw: st.DrawFn, near: datetime) -> list[Override]:
    """Draw up to three overrides around an instant."""
    found = []
    for _ in range(draw(st.integers(0, 3))):
        start = near + timedelta(minutes=draw(st.integers(-3000, 3000)))
        end = start + timedelta(minutes=draw(st.integers(1, 3000)))
        layer = draw(st.sampled_from(["primary", "secondary"]))
        mode = draw(st.sampled_from(["replace", "add"]))
        found.append(
            override(start, end, draw(st.sampled_from(["dave", "alice"])), mode, layer=layer)
        )
    return found


@settings(max_examples=300, deadline=None)
@given(st.data(), schedules(), instants, st.integers(0, 10 * 86_400), st.integers(1, 10 * 86_400))
def test_on_call_agrees_with_shifts(
    data: st.DataObject, sched: Schedule, at: datetime, back: int, ahead: int
) -> None:
    extra = data.draw(overrides(at))
    found = shifts(sched, at - timedelta(seconds=back), at + timedelta(seconds=ahead), extra)
    now = on_call(sched, at, extra)
    for layer in sched.layers:
        covering = [s.person for s in found if s.layer == layer.name and s.start <= at < s.end]
        assert sorted(now[layer.name]) == sorted(covering)
        assert len(set(covering)) == len(covering)
    for layer in sched.layers:  # within a layer one person's shifts never touch or overlap
        for person in {s.person for s in found}:
            mine = [s for s in found if s.layer == layer.name and s.person == person]
            assert all(a.end < b.start for a, b in pairwise(mine))


@settings(max_examples=200, deadline=None)
@given(schedules(restricted=False), instants, st.integers(1, 40 * 86_400))
def test_without_restrictions_exactly_one_on_call_always(
    sched: Schedule, at: datetime, length: int
) -> None:
    assert all(len(people) == 1 for people in on_call(sched, at).values())
    end = at + timedelta(seconds=length)
    for layer in sched.layers:
        found = shifts(sched, at, end, layer=layer.name)
        assert found[0].start == at and found[-1].end == end
        assert all(a.end == b.start and a.person != b.person for a, b in pairwise(found))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.one_of(
        st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1)),
        st.builds(
            lambda base, minutes: base + timedelta(minutes=minutes),
            st.sampled_from([datetime(2026, 3, 8, 2), datetime(2026, 3, 29, 2)]),
            st.integers(-90, 90),
        ),
    ),
)
def test_resolve_local_picks_the_first_valid_instant(zone: str, wall: datetime) -> None:
    tz = ZoneInfo(zone)
    found = resolve_local(wall, tz)
    seen = found.astimezone(tz).replace(tzinfo=None, fold=0)
    if seen == wall:  # it exists: no earlier instant shows the same wall time
        for back in (30, 60, 120):
            earlier = (found - timedelta(minutes=back)).astimezone(tz)
            assert earlier.replace(tzinfo=None, fold=0) != wall
    else:  # it is in a gap: the answer is the first instant after it
        assert seen > wall
        assert (found - timedelta(seconds=1)).astimezone(tz).replace(tzinfo=None) < wall
