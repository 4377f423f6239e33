"""Whether a page can reach a person: a way configured to send it, and their address for it."""

from __future__ import annotations

from collections.abc import Collection

from warroom.organisation import PersonConfig

# What each paging method (`notifications.page_via`) is called for people, and needs.
METHOD_NAMES = {"chat": "Slack", "email": "e-mail"}
ADDRESS_NAMES = {"chat": "Slack id", "email": "e-mail address"}


def why_unreachable(
    person: PersonConfig | None, *, page_via: Collection[str], channels: Collection[str]
) -> str | None:
    """Return why no page can reach this person (`no Slack/e-mail configured`), or None."""
    if person is None:
        return "not a person under people: in warroom.yaml"
    if not page_via:
        return "notifications.page_via is empty"
    usable = [method for method in page_via if method in channels]
    if any(address(person, method) for method in usable):
        return None
    missing = [method for method in page_via if method not in channels]
    reasons = []
    if usable:
        reasons.append(
            f"they have no {' or '.join(ADDRESS_NAMES[m] for m in usable)} under people:"
        )
    if missing:
        reasons.append(f"no {'/'.join(METHOD_NAMES[m] for m in missing)} configured")
    return "; ".join(reasons)


def address(person: PersonConfig, method: str) -> str | None:
    """Return the person's address for a paging method (Slack id, e-mail), if they have one."""
    if method == "chat":
        return person.slack
    if method == "email":
        return str(person.email) if person.email else None
    return None


def describe_unreached(unreached: dict[str, str], rooms: list[str]) -> str:
    """Say who a step named but could not reach, and why: `lena was on call but …`."""
    by_reason: dict[str, list[str]] = {}
    for person, reason in unreached.items():
        by_reason.setdefault(reason, []).append(person)
    parts = [
        f"{', '.join(people)} {'was' if len(people) == 1 else 'were'} on call but no channel "
        f"can reach them ({reason})"
        for reason, people in by_reason.items()
    ]
    if rooms:
        parts.append(f"{', '.join(rooms)} cannot be posted to (no Slack configured)")
    return "; ".join(parts)
