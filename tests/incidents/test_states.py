"""The lifecycle rules of DESIGN §5, checked exhaustively and by property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warroom.core.errors import Conflict
from warroom.incidents.states import STATUSES, allowed_actions, check_action

ACTIONS = ["acknowledge", "triage", "mitigate", "resolve", "close", "reopen"]


def test_allowed_actions_table() -> None:
    assert allowed_actions("detected") == ["acknowledge", "triage", "mitigate", "resolve", "close"]
    assert allowed_actions("triaged") == ["acknowledge", "mitigate", "resolve", "close"]
    assert allowed_actions("triaged", acknowledged=True) == ["mitigate", "resolve", "close"]
    assert allowed_actions("mitigated") == ["acknowledge", "resolve", "close", "reopen"]
    assert allowed_actions("resolved") == ["close", "reopen"]
    assert allowed_actions("closed") == []


@given(st.sampled_from(STATUSES), st.sampled_from(ACTIONS))
def test_check_action_agrees_with_allowed(status: str, action: str) -> None:
    if action in allowed_actions(status):
        target = check_action("INC-1", status, action)
        assert target in STATUSES
        # forward only, except reopen which goes back to triaged
        if action == "reopen":
            assert target == "triaged"
        elif action != "acknowledge":
            assert STATUSES.index(target) > STATUSES.index(status)
    else:
        with pytest.raises(Conflict) as caught:
            check_action("INC-1", status, action)
        assert caught.value.details["allowed"] == allowed_actions(status)
        assert f"Allowed from {status}" in caught.value.message
