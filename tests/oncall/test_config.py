"""Schedule configuration: what is accepted, how it is normalised, and the messages for mistakes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from warroom.oncall.config import Override, Restriction, Rotation, Schedule

ROTATION: dict[str, Any] = {"participants": ["alice", "bob"]}


def schedule(**changes: Any) -> dict[str, Any]:
    """Return a valid schedule document with some keys changed."""
    doc: dict[str, Any] = {
        "id": "payments",
        "timezone": "Europe/Berlin",
        "layers": [{"name": "primary", "rotation": dict(ROTATION)}],
    }
    doc.update(changes)
    return doc


def message(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    """Return all the error messages of a validation error, joined."""
    return " | ".join(error["msg"] for error in excinfo.value.errors())


def test_design_sketch_loads_from_yaml() -> None:
    text = """
    id: payments
    timezone: Europe/Berlin
    layers:
      - {name: primary,   rotation: {every: 1w, handoff: "Mon 09:00", participants: [alice, bob]}}
      - {name: secondary, rotation: {every: 1w, handoff: "Mon 09:00", participants: [bob, alice]}}
    """
    loaded = Schedule.model_validate(yaml.safe_load(text))
    assert [layer.name for layer in loaded.layers] == ["primary", "secondary"]
    assert loaded.zone.key == "Europe/Berlin"
    rotation = loaded.layers[0].rotation
    assert rotation.start == date(2026, 1, 5)
    assert rotation.compiled.step == timedelta(weeks=1)
    assert rotation.compiled.anchor == datetime(2026, 1, 5, 9, 0)
    assert loaded.layer("secondary") is loaded.layers[1]
    assert loaded.layer("tertiary") is None


def test_dump_and_load_round_trip() -> None:
    original = Schedule.model_validate(
        schedule(
            layers=[
                {
                    "name": "night",
                    "rotation": {
                        "participants": ["alice"],
                        "every": "12H",
                        "handoff": "9:00",
                        "restrictions": [
                            {"weekdays": ["mon", "FRI"], "start": "18:00", "end": "9:00"}
                        ],
                    },
                }
            ]
        )
    )
    dumped = original.model_dump(mode="json")
    rotation = dumped["layers"][0]["rotation"]
    assert rotation["every"] == "12h"
    assert rotation["handoff"] == "09:00"
    assert rotation["restrictions"][0] == {
        "weekdays": ["Mon", "Fri"],
        "start": "18:00",
        "end": "09:00",
    }
    again = Schedule.model_validate(dumped)
    assert again == original
    assert again.compiled == original.compiled


@pytest.mark.parametrize(
    ("every", "step", "normalised"),
    [
        ("12h", timedelta(hours=12), "12h"),
        ("24h", timedelta(days=1), "1d"),
        ("1d", timedelta(days=1), "1d"),
        ("7d", timedelta(weeks=1), "1w"),
        ("2w", timedelta(weeks=2), "2w"),
    ],
)
def test_durations(every: str, step: timedelta, normalised: str) -> None:
    rotation = Rotation.model_validate({**ROTATION, "every": every})
    assert rotation.compiled.step == step
    assert rotation.every == normalised


def test_weekday_handoff_anchors_on_the_first_such_day_on_or_after_start() -> None:
    rotation = Rotation.model_validate(
        {**ROTATION, "every": "2w", "handoff": "Wed 17:30", "start": "2026-03-05"}
    )
    assert rotation.handoff == "Wed 17:30"
    assert rotation.compiled.anchor == datetime(2026, 3, 11, 17, 30)  # 2026-03-05 is a Thursday


def test_restriction_defaults_and_compiled_window() -> None:
    night = Restriction.model_validate({"start": "18:00", "end": "09:00"})
    assert night.weekdays == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert night.compiled.opens == timedelta(hours=18)
    assert night.compiled.closes == timedelta(hours=33)  # crosses midnight
    whole = Restriction.model_validate(
        {"weekdays": ["Sat", "Sun"], "start": "00:00", "end": "24:00"}
    )
    assert whole.compiled.days == frozenset({5, 6})
    assert whole.compiled.closes == timedelta(hours=24)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (schedule(timezone="Mars/Base"), "unknown time zone 'Mars/Base'"),
        (schedule(timezone="../etc/passwd"), "unknown time zone '../etc/passwd'"),
        (schedule(layers=[]), "a schedule needs at least one layer"),
        (
            schedule(layers=[{"name": "primary", "rotation": ROTATION}] * 2),
            "layer 'primary' is defined twice",
        ),
        (schedule(id="Payments Team"), "schedule id 'Payments Team' must be lower-case"),
        (
            schedule(layers=[{"name": "Primary!", "rotation": ROTATION}]),
            "layer name 'Primary!' must be lower-case",
        ),
        (
            schedule(layers=[{"name": "primary", "rotation": {"participants": []}}]),
            "the rotation is empty",
        ),
        (
            schedule(layers=[{"name": "primary", "rotation": {**ROTATION, "shift": "1w"}}]),
            "Extra inputs are not permitted",
        ),
    ],
)
def test_schedule_errors(doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Schedule.model_validate(doc)
    assert expected in message(excinfo)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"participants": ["Bob Smith"]}, "participant 'Bob Smith' is not a person id"),
        ({"every": "1y"}, "duration '1y' must be a positive whole number of hours, days or weeks"),
        ({"every": "0d"}, "duration '0d' must be a positive"),
        ({"every": "1.5d"}, "duration '1.5d'"),
        ({"every": "99999999999w"}, "longer than a rotation step may be (52 weeks)"),
        ({"every": 7}, "duration 7"),
        ({"handoff": "25:00"}, "handoff '25:00' must be \"HH:MM\" or a weekday"),
        ({"handoff": "9am"}, "handoff '9am'"),
        ({"handoff": "Someday 09:00"}, "weekday 'Someday' must be one of Mon, Tue"),
        ({"handoff": "Mon 9"}, "time '9' must look like HH:MM"),
        ({"handoff": 570}, 'must be quoted: write "09:30" (YAML reads an unquoted 9:30 as'),
        ({"handoff": 9.5}, 'time 9.5 must be a quoted string like "09:00"'),
        ({"every": "1d", "handoff": "Mon 09:00"}, "names a weekday, so every must be whole weeks"),
        ({"every": "36h", "handoff": "Tue 09:00"}, "not '36h'"),
        ({"start": "2026-02-30"}, "start"),
        ({"start": "9999-12-31", "handoff": "Mon 09:00"}, "must be a date between 1900 and 2999"),
    ],
)
def test_rotation_errors(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Rotation.model_validate({**ROTATION, **changes})
    text = message(excinfo) + " " + str(excinfo.value)
    assert expected in text


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            {"start": "09:00", "end": "09:00"},
            "restriction starts and ends at 09:00: the window is empty",
        ),
        ({"start": "00:00", "end": "00:00"}, 'write start: "00:00", end: "24:00" for whole days'),
        ({"weekdays": [], "start": "09:00", "end": "17:00"}, "weekdays is empty"),
        ({"weekdays": ["Mon", "mon"], "start": "09:00", "end": "17:00"}, "names a day twice"),
        (
            {"weekdays": ["Monday"], "start": "09:00", "end": "17:00"},
            "weekday 'Monday' must be one of",
        ),
        ({"weekdays": "Mon", "start": "09:00", "end": "17:00"}, "weekdays must be a list"),
        ({"start": "24:00", "end": "09:00"}, "time '24:00' is not a time of day"),
        ({"start": "18:00", "end": "9:60"}, "time '9:60' is not a time of day"),
        ({"start": 1080, "end": "09:00"}, "YAML reads an unquoted 18:00 as the number 1080"),
        ({"start": "09:00"}, "Field required"),
    ],
)
def test_restriction_errors(doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        Restriction.model_validate(doc)
    assert expected in message(excinfo)


def test_unquoted_yaml_times_are_explained() -> None:
    doc = yaml.safe_load(
        "{participants: [alice], handoff: 9:30, restrictions: [{start: 18:00, end: 7:00}]}"
    )
    with pytest.raises(ValidationError) as excinfo:
        Rotation.model_validate(doc)
    assert [error["loc"] for error in excinfo.value.errors()] == [
        ("handoff",),
        ("restrictions", 0, "start"),
        ("restrictions", 0, "end"),
    ]
    assert 'write "18:00"' in message(excinfo)


def test_messages_name_the_field_in_a_schedule() -> None:
    bad = {"weekdays": [], "start": "09:00", "end": "17:00"}
    doc = schedule(layers=[{"name": "primary", "rotation": {**ROTATION, "restrictions": [bad]}}])
    with pytest.raises(ValidationError) as excinfo:
        Schedule.model_validate(doc)
    [error] = excinfo.value.errors()
    assert error["loc"] == ("layers", 0, "rotation", "restrictions", 0, "weekdays")
    assert error["msg"] == "weekdays is empty: the restriction would never be active"


def test_models_are_frozen() -> None:
    loaded = Schedule.model_validate(schedule())
    with pytest.raises(ValidationError):
        loaded.timezone = "UTC"  # type: ignore[misc]


def test_override_normalises_to_utc() -> None:
    berlin = timezone(timedelta(hours=2))
    override = Override(
        schedule="payments",
        layer="primary",
        start=datetime(2026, 6, 1, 12, 0, tzinfo=berlin),
        end=datetime(2026, 6, 1, 14, 0, tzinfo=berlin),
        person="carol",
    )
    assert override.start == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert override.start.tzinfo is UTC
    assert override.mode == "replace"


@pytest.mark.parametrize(
    ("start", "end", "mode", "expected"),
    [
        (
            datetime(2026, 6, 1),
            datetime(2026, 6, 2, tzinfo=UTC),
            "add",
            "start must be timezone-aware",
        ),
        (
            datetime(2026, 6, 2, tzinfo=UTC),
            datetime(2026, 6, 2, tzinfo=UTC),
            "add",
            "end must be after",
        ),
        (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC), "swap", "'swap'"),
    ],
)
def test_override_errors(start: datetime, end: datetime, mode: Any, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        Override(schedule="s", layer="primary", start=start, end=end, person="a", mode=mode)
