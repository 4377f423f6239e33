"""Validation errors in people's words, whatever pydantic calls them."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warroom.core.validation import humane


class Sample(BaseModel):
    """A model with one constraint of each kind the API uses."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=5)] = "t"
    count: int = 0
    status: Literal["firing", "resolved"] = "firing"
    note: str = "n"

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"title": ""}, "must not be empty"),
        ({"title": "toolong"}, "must be at most 5 characters"),
        ({"count": "many"}, "must be a whole number"),
        ({"status": "pending"}, "must be 'firing' or 'resolved'"),
        ({"note": " "}, "must not be blank"),
        ({"colour": "red"}, "is not a known field"),
        ({"title": 5}, "must be text"),
    ],
)
def test_each_error_in_plain_words(data: dict[str, object], said: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Sample.model_validate(data)
    [error] = caught.value.errors()
    message = humane(error)
    assert message == said
    assert "Value error" not in message and "should" not in message


def test_a_missing_field_is_required() -> None:
    class Needs(BaseModel):
        title: str

    with pytest.raises(ValidationError) as caught:
        Needs.model_validate({})
    assert humane(caught.value.errors()[0]) == "is required"
