"""The incident lifecycle: statuses, the actions that move between them, and the rules."""

from __future__ import annotations

from warroom.core.errors import Conflict

STATUSES = ("detected", "triaged", "mitigated", "resolved", "closed")
OPEN_STATUSES = ("detected", "triaged", "mitigated")

# Each action and the status it moves the incident to.
ACTION_TARGET = {
    "triage": "triaged",
    "mitigate": "mitigated",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "triaged",
}
REOPENABLE = ("mitigated", "resolved")


def _rank(status: str) -> int:
    return STATUSES.index(status)


def allowed_actions(status: str, *, acknowledged: bool = False) -> list[str]:
    """Return the actions allowed from `status`, in lifecycle order.

    An acknowledged incident is not offered `acknowledge` again (a repeat changes nothing).
    """
    actions = [
        action
        for action, target in ACTION_TARGET.items()
        if action != "reopen" and _rank(target) > _rank(status)
    ]
    if status in REOPENABLE:
        actions.append("reopen")
    if status not in ("resolved", "closed") and not acknowledged:
        actions.insert(0, "acknowledge")
    return actions


def check_action(ref: str, status: str, action: str) -> str:
    """Return the status `action` leads to, or raise Conflict saying what is allowed."""
    allowed = allowed_actions(status)
    if action in allowed:
        return ACTION_TARGET.get(action, status)
    target = ACTION_TARGET.get(action)
    what = f"cannot {action} (move to {target})" if target is not None else f"cannot {action}"
    allowed_text = ", ".join(allowed) if allowed else "nothing (closed is final)"
    raise Conflict(
        f"{ref} is {status}: {what}. Allowed from {status}: {allowed_text}.",
        details={"status": status, "action": action, "allowed": allowed},
    )


def check_not_closed(ref: str, status: str, what: str) -> None:
    """Raise Conflict if the incident is closed, saying `what` is refused and what to do."""
    if status == "closed":
        raise Conflict(
            f"{ref} is closed, and closed is final: {what}. If the problem is back, declare a "
            f"new incident and name {ref} in its summary.",
            details={"ref": ref, "status": status},
        )
