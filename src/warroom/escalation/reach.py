"""Whether a page can reach a person: a way configured to send it, and their address for it."""

from __future__ import annotations

from collections.abc import Collection

from warroom.organisation import KIND_NAMES as METHOD_NAMES

# What address each paging method (`notifications.page_via`, a contact method's type) needs,
# in the words of the timeline's reasons.
ADDRESS_NAMES = {
    "chat": "Slack id",
    "email": "e-mail address",
    "sms": "SMS number",
    "voice": "voice number",
    "push": "push URL",
}


def reasons(kinds: list[str], have: Collection[str], channels: Collection[str]) -> str:
    """Say why none of `kinds` reaches someone who has addresses of the kinds in `have`."""
    usable = [kind for kind in kinds if kind in channels]
    missing = [kind for kind in kinds if kind not in channels]
    found = []
    if usable and not any(kind in have for kind in usable):
        found.append(f"they have no {' or '.join(ADDRESS_NAMES[k] for k in usable)} under people:")
    if missing:
        found.append(f"no {'/'.join(METHOD_NAMES[k] for k in missing)} configured")
    return "; ".join(found)


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
