"""Schedule configuration (pydantic, embeddable in `warroom.yaml`): layers, rotations, overrides."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from warroom.organisation import PERSON_ID

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_START = date(2026, 1, 5)  # a Monday
MINUTES_PER_DAY = 24 * 60
MAX_STEP = timedelta(weeks=52)
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_DURATION = re.compile(r"^(\d+)\s*([hdw])$", re.IGNORECASE)
_UNIT_MINUTES = {"h": 60, "d": MINUTES_PER_DAY, "w": 7 * MINUTES_PER_DAY}
_IDENTIFIER = re.compile(PERSON_ID)


def _invalid(message: str) -> PydanticCustomError:
    """Return a validation error whose message is shown as is (no 'Value error,' prefix)."""
    return PydanticCustomError("oncall_config", message)


def _parse_clock(value: object, *, allow_24: bool = False) -> int:
    """Return the minutes after midnight of a local "HH:MM" time."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MINUTES_PER_DAY:
        # YAML 1.1 reads an unquoted 18:00 as the base-60 number 1080.
        hours, minutes = divmod(value, 60)
        raise _invalid(
            f'time {value!r} must be quoted: write "{hours:02d}:{minutes:02d}" '
            f"(YAML reads an unquoted {hours}:{minutes:02d} as the number {value})"
        )
    if not isinstance(value, str):
        raise _invalid(f'time {value!r} must be a quoted string like "09:00"')
    match = _CLOCK.match(value.strip())
    if not match:
        raise _invalid(f'time {value!r} must look like HH:MM, e.g. "09:00"')
    hours, minutes = int(match[1]), int(match[2])
    if allow_24 and (hours, minutes) == (24, 0):
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise _invalid(f"time {value!r} is not a time of day (00:00 to 23:59)")
    return hours * 60 + minutes


def _identifier(kind: str, value: str) -> str:
    """Return `value` if it is a lower-case identifier (as person ids are), else refuse it."""
    if not _IDENTIFIER.match(value):
        raise _invalid(f"{kind} {value!r} must be lower-case letters, digits, '.', '_' or '-'")
    return value


def _format_clock(minutes: int) -> str:
    """Return "HH:MM" for minutes after midnight."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_weekday(value: object) -> int:
    """Return 0 (Mon) … 6 (Sun) for a weekday name such as "Mon"."""
    if isinstance(value, str):
        for index, name in enumerate(WEEKDAYS):
            if value.strip().lower() == name.lower():
                return index
    raise _invalid(f"weekday {value!r} must be one of {', '.join(WEEKDAYS)}")


def _parse_duration(value: object) -> timedelta:
    """Return the length of a rotation step written like 12h, 1d, 1w or 2w."""
    match = _DURATION.match(value.strip()) if isinstance(value, str) else None
    if not match or int(match[1]) == 0:
        raise _invalid(
            f"duration {value!r} must be a positive whole number of hours, days or weeks, "
            "e.g. 12h, 1d, 1w, 2w"
        )
    minutes = int(match[1]) * _UNIT_MINUTES[match[2].lower()]
    if minutes > MAX_STEP / timedelta(minutes=1):
        raise _invalid(f"duration {value!r} is longer than a rotation step may be (52 weeks)")
    return timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class CompiledWindow:
    """A restriction as the engine reads it: opening weekdays and offsets from local midnight."""

    days: frozenset[int]
    opens: timedelta
    closes: timedelta


@dataclass(frozen=True, slots=True)
class CompiledRotation:
    """A rotation as the engine reads it (`anchor` is participant 0's first naive local handoff)."""

    anchor: datetime
    step: timedelta
    participants: tuple[str, ...]
    windows: tuple[CompiledWindow, ...]


@dataclass(frozen=True, slots=True)
class CompiledSchedule:
    """A schedule as the engine reads it: its zone and (layer name, rotation) in order."""

    id: str
    zone: ZoneInfo
    layers: tuple[tuple[str, CompiledRotation], ...]


class Restriction(BaseModel):
    """A weekly window in local time when a layer is active, e.g. Mon–Fri 18:00–09:00."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekdays: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    start: str
    end: str

    _compiled: CompiledWindow = PrivateAttr()

    @field_validator("weekdays", mode="before")
    @classmethod
    def _weekdays(cls, value: object) -> list[str]:
        if not isinstance(value, list | tuple):
            raise _invalid("weekdays must be a list such as [Mon, Tue, Wed, Thu, Fri]")
        if not value:
            raise _invalid("weekdays is empty: the restriction would never be active")
        days = [_parse_weekday(item) for item in value]
        if len(set(days)) != len(days):
            raise _invalid(f"weekdays {list(value)!r} names a day twice")
        return [WEEKDAYS[day] for day in days]

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: object, info: ValidationInfo) -> str:
        return _format_clock(_parse_clock(value, allow_24=info.field_name == "end"))

    @model_validator(mode="after")
    def _window(self) -> Restriction:
        start, end = _parse_clock(self.start), _parse_clock(self.end, allow_24=True)
        if start == end:
            raise _invalid(
                f"restriction starts and ends at {self.start}: the window is empty; "
                'write start: "00:00", end: "24:00" for whole days'
            )
        # A window ending at or before its start crosses midnight into the next day.
        closes = end if end > start else end + MINUTES_PER_DAY
        self._compiled = CompiledWindow(
            days=frozenset(WEEKDAYS.index(day) for day in self.weekdays),
            opens=timedelta(minutes=start),
            closes=timedelta(minutes=closes),
        )
        return self

    @property
    def compiled(self) -> CompiledWindow:
        """The window in the engine's form."""
        return self._compiled


class Rotation(BaseModel):
    """Participants taking turns: a step of `every`, handing off at local `handoff` time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    participants: list[str]
    every: str = "1w"
    handoff: str = "09:00"
    start: date = DEFAULT_START
    restrictions: list[Restriction] = Field(default_factory=list)

    _compiled: CompiledRotation = PrivateAttr()

    @field_validator("participants")
    @classmethod
    def _participants(cls, value: list[str]) -> list[str]:
        if not value:
            raise _invalid("the rotation is empty: list at least one participant")
        for person in value:
            if not _IDENTIFIER.match(person):
                raise _invalid(
                    f"participant {person!r} is not a person id "
                    "(lower-case letters, digits, '.', '_' and '-')"
                )
        return value

    @field_validator("start")
    @classmethod
    def _start(cls, value: date) -> date:
        if not 1900 <= value.year <= 2999:
            raise _invalid(f"start {value.isoformat()} must be a date between 1900 and 2999")
        return value

    @field_validator("every", mode="before")
    @classmethod
    def _every(cls, value: object) -> str:
        minutes = int(_parse_duration(value).total_seconds()) // 60
        for unit in ("w", "d", "h"):
            if minutes % _UNIT_MINUTES[unit] == 0:
                return f"{minutes // _UNIT_MINUTES[unit]}{unit}"
        raise AssertionError("unreachable: durations are whole hours")  # pragma: no cover

    @field_validator("handoff", mode="before")
    @classmethod
    def _handoff(cls, value: object) -> str:
        if isinstance(value, str) and " " in value.strip():
            day, _, clock = value.strip().partition(" ")
            weekday = _parse_weekday(day)
            return f"{WEEKDAYS[weekday]} {_format_clock(_parse_clock(clock.strip()))}"
        if not isinstance(value, str):
            _parse_clock(value)  # explains that YAML read an unquoted time as a number
        try:
            return _format_clock(_parse_clock(value))
        except PydanticCustomError:
            raise _invalid(
                f'handoff {value!r} must be "HH:MM" or a weekday and a time like "Mon 09:00"'
            ) from None

    @model_validator(mode="after")
    def _compile(self) -> Rotation:
        step = _parse_duration(self.every)
        day, _, clock = self.handoff.rpartition(" ")
        anchor_date = self.start
        if day:
            if step % timedelta(weeks=1):
                raise _invalid(
                    f"handoff {self.handoff!r} names a weekday, so every must be whole weeks "
                    f"(1w, 2w, …), not {self.every!r}; or write the time alone"
                )
            anchor_date += timedelta(days=(WEEKDAYS.index(day) - self.start.weekday()) % 7)
        self._compiled = CompiledRotation(
            anchor=datetime.combine(anchor_date, time()) + timedelta(minutes=_parse_clock(clock)),
            step=step,
            participants=tuple(self.participants),
            windows=tuple(restriction.compiled for restriction in self.restrictions),
        )
        return self

    @property
    def compiled(self) -> CompiledRotation:
        """The rotation in the engine's form."""
        return self._compiled


class Layer(BaseModel):
    """One level of a schedule (primary, secondary, …) and its rotation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    rotation: Rotation

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _identifier("layer name", value)


class Schedule(BaseModel):
    """An on-call schedule: layers of rotations in one IANA time zone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    timezone: str
    layers: list[Layer]

    _compiled: CompiledSchedule = PrivateAttr()

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return _identifier("schedule id", value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid(
                f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)"
            ) from None
        return value

    @field_validator("layers")
    @classmethod
    def _layers(cls, value: list[Layer]) -> list[Layer]:
        if not value:
            raise _invalid("a schedule needs at least one layer (e.g. primary)")
        seen: set[str] = set()
        for layer in value:
            if layer.name in seen:
                raise _invalid(f"layer {layer.name!r} is defined twice")
            seen.add(layer.name)
        return value

    @model_validator(mode="after")
    def _compile(self) -> Schedule:
        self._compiled = CompiledSchedule(
            id=self.id,
            zone=ZoneInfo(self.timezone),
            layers=tuple((layer.name, layer.rotation.compiled) for layer in self.layers),
        )
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return self._compiled.zone

    @property
    def compiled(self) -> CompiledSchedule:
        """The schedule in the engine's form (built once, at validation)."""
        return self._compiled

    def layer(self, name: str) -> Layer | None:
        """Return the layer with this name, if any."""
        return next((layer for layer in self.layers if layer.name == name), None)


OverrideMode = Literal["replace", "add"]


@dataclass(frozen=True)
class Override:
    """Runtime data: `person` replaces (or joins) a schedule layer from `start` to `end`."""

    schedule: str
    layer: str
    start: datetime
    end: datetime
    person: str
    mode: OverrideMode = "replace"

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"override {name} must be timezone-aware, got {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError("override end must be after its start")
        if self.mode not in ("replace", "add"):
            raise ValueError(f"override mode {self.mode!r} must be 'replace' or 'add'")
