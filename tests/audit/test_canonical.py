"""The audit chain's canonical form is RFC 8785 (JCS), as an independent implementation has it."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from warroom.audit.chain import MAX_SAFE_INTEGER, canonical, canonical_unchecked, entry_hash

# Names and text over the whole of Unicode but lone surrogates (not valid in UTF-8 JSON):
# astral characters, private use, controls, bidi marks and the JSON escapes all turn up.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | TEXT
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(TEXT, VALUES, max_size=6))
@settings(max_examples=400, deadline=None)
def test_ours_is_byte_for_byte_rfc8785(value: dict[str, Any]) -> None:
    expected = rfc8785.dumps(value)
    assert canonical(value) == expected
    assert canonical_unchecked(value) == expected  # verify's faster path


def test_names_order_by_utf16_code_units_not_code_points() -> None:
    # U+E000 sorts before U+1F600 by code point, after it by UTF-16 (a surrogate pair, D83D…).
    value = {"\ue000": 1, "\U0001f600": 2, "a": 3}
    assert canonical(value) == '{"a":3,"😀":2,"\ue000":1}'.encode()
    assert canonical_unchecked(value) == canonical(value)


@pytest.mark.parametrize("bad", [1.5, 2**53, -(2**53), float("nan"), {"n": [0.1]}])
def test_floats_and_unsafe_integers_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="strings, safe integers"):
        canonical({"x": bad})


def test_the_hash_is_over_the_previous_hash_a_line_feed_and_the_form() -> None:
    import hashlib

    entry = {"seq": 1, "action": "signin", "details": {"b": 1, "a": "é"}}
    form = b'{"action":"signin","details":{"a":"\xc3\xa9","b":1},"seq":1}'
    assert canonical(entry) == form
    assert entry_hash("0" * 64, entry) == hashlib.sha256(b"0" * 64 + b"\n" + form).hexdigest()
