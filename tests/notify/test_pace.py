"""The pace of sends: round sizes follow the mean send time, the slowest send is kept."""

from __future__ import annotations

from warroom.notify.pace import Pace


def _round(pace: Pace, *seconds: float) -> int:
    for each in seconds:
        pace.observe(each)
    pace.round_ended()
    return pace.per_worker


def test_rounds_shrink_at_once_when_sends_slow_down() -> None:
    pace = Pace(budget=0.5, least=1, most=32, start=32)
    assert _round(pace, 0.1, 0.1) == 5  # 0.5 s of 0.1 s sends
    assert _round(pace, 10.0) == 1  # a timeout: one row a worker, never none


def test_rounds_grow_at_most_twofold_when_sends_are_fast() -> None:
    pace = Pace(budget=0.5, least=1, most=32, start=1)
    assert [_round(pace, 0.001) for _ in range(6)] == [2, 4, 8, 16, 32, 32]


def test_a_round_that_sent_nothing_keeps_its_size() -> None:
    pace = Pace(budget=0.5, least=1, most=32, start=8)
    assert _round(pace) == 8


def test_the_slowest_send_counts_at_once_and_is_forgotten_by_halves() -> None:
    pace = Pace(budget=0.5, least=1, most=32, start=8)
    pace.observe(0.01)
    pace.observe(40.0)
    assert pace.slowest == 40.0  # before the round ends: a worker's next send sees it
    pace.round_ended()
    _round(pace, 0.01)
    assert pace.slowest == 20.0
    _round(pace)  # nothing sent (every row was too late to start): forgotten all the same
    assert pace.slowest == 10.0
