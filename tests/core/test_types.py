"""The shared field aliases: each keeps the limits the request schemas had written out."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from warroom.core.types import LongText, Name, Paragraph, PersonId, Reason, Title


@pytest.mark.parametrize(
    ("alias", "shortest", "longest"),
    [
        (Name, 0, 64),
        (PersonId, 1, 64),
        (Title, 1, 200),
        (LongText, 0, 20_000),
        (Paragraph, 0, 5_000),
        (Reason, 0, 2_000),
    ],
)
def test_alias_limits(alias: Any, shortest: int, longest: int) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(alias)
    assert adapter.validate_python("x" * longest) == "x" * longest
    assert adapter.validate_python("x" * shortest) == "x" * shortest
    with pytest.raises(ValidationError, match="at most"):
        adapter.validate_python("x" * (longest + 1))
    if shortest:
        with pytest.raises(ValidationError, match="at least"):
            adapter.validate_python("x" * (shortest - 1))


def test_a_minimum_added_beside_an_alias_keeps_its_maximum() -> None:
    adapter: TypeAdapter[str] = TypeAdapter(Annotated[Reason, Field(min_length=1)])
    assert adapter.json_schema() == {"type": "string", "minLength": 1, "maxLength": 2000}
