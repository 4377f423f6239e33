"""The fishbone SVG and the postmortem configuration, without a database."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from pydantic import ValidationError

from warroom.postmortem import fishbone
from warroom.postmortem.config import PostmortemConfig

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    root = ElementTree.fromstring(svg.encode())
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_every_category_and_cause_is_drawn() -> None:
    bones = {"People": ["Tired on-call"], "Process": [], "Tools": [f"cause {n}" for n in range(9)]}
    svg = fishbone.render("Checkout is down", bones)
    shown = " ".join(texts(svg))
    for word in ["People", "Process", "Tools", "Tired on-call", "cause 8", "Checkout is down"]:
        assert word in shown
    root = ElementTree.fromstring(svg.encode())
    assert len(root.findall(f"{SVG}g")) == 3  # one bone per category


def test_long_text_is_shortened_with_the_whole_in_a_tooltip() -> None:
    cause = "a very long cause " * 10
    title = "An incident title long enough to need more than three lines of text in the box " * 2
    svg = fishbone.render(title, {"People": [cause]})
    label = next(
        t
        for t in ElementTree.fromstring(svg.encode()).iter(f"{SVG}text")
        if "cause" in "".join(t.itertext())
    )
    tooltip = label.find(f"{SVG}title")
    assert tooltip is not None and tooltip.text == " ".join(cause.split())
    assert (label.text or "").endswith("…") or "…" in "".join(label.itertext())
    assert sum(1 for t in texts(svg) if "incident title" in t or "lines" in t) <= 3


def test_text_xml_cannot_hold_is_dropped_and_markup_escaped() -> None:
    svg = fishbone.render("A & B <c>", {"]]> \x00\x07 \ufffe": ["<script>x</script>"]})
    assert "<script>" not in svg and "<c>" not in svg
    shown = texts(svg)
    assert any("<script>x</script>" in t for t in shown) and any("A & B <c>" in t for t in shown)


def test_no_categories_still_draws_a_spine() -> None:
    assert texts(fishbone.render("x", {}))


def test_config_defaults_and_checks() -> None:
    config = PostmortemConfig()
    assert config.fishbone_categories[0] == "People" and config.due_business_days == 5
    assert config.is_required("SEV-1", {"SEV-1"}) and not config.is_required("SEV-3", {"SEV-1"})
    chosen = PostmortemConfig(required_severities=["SEV-3"])
    assert chosen.is_required("SEV-3", {"SEV-1"}) and not chosen.is_required("SEV-1", {"SEV-1"})
    for bad in [
        {"fishbone_categories": ["People", "people"]},
        {"fishbone_categories": [" "]},
        {"fishbone_categories": []},
        {"due_business_days": -1},
        {"surprise": 1},
    ]:
        with pytest.raises(ValidationError):
            PostmortemConfig.model_validate(bad)
