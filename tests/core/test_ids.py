"""Incident references: one parser for the API, the services and the CLI."""

from __future__ import annotations

import pytest

from warroom.core.ids import incident_number, incident_ref


@pytest.mark.parametrize(
    ("ref", "number"),
    [
        ("42", 42),
        ("INC-42", 42),
        ("inc-7", 7),
        (" INC-1 ", 1),
        ("007", 7),
        ("999999999", 999999999),
    ],
)
def test_references_name_numbers(ref: str, number: int) -> None:
    assert incident_number(ref) == number
    assert incident_ref(number) == f"INC-{number}"


@pytest.mark.parametrize("ref", ["", "INC-", "INC-x", "-1", "4 2", "1000000000", "٤٢", "INC--1"])
def test_what_names_no_incident(ref: str) -> None:
    assert incident_number(ref) is None
