"""Rate-limit budgets of a sender's round: how many more messages each destination may get."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from warroom.notify import outbox
from warroom.notify.config import RateLimit
from warroom.notify.models import Notification
from warroom.notify.twilio_config import ChannelRate

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


def _channel_rate(channel: str, config: WarroomConfig) -> ChannelRate | None:
    """Return the provider's limit for a whole channel (Twilio's SMS and voice), if set."""
    twilio = config.integrations.twilio
    if twilio is None:
        return None
    return {"sms": twilio.sms_rate, "voice": twilio.voice_rate}.get(channel)


def _limit_for(row: Notification, config: WarroomConfig) -> RateLimit | None:
    """Return the rate limit that applies to a row's destination, if any."""
    limits = config.notifications.rate_limits
    if row.destination.startswith("person:"):
        return limits.get("person")
    if row.channel == "chat" and row.destination.startswith("#"):
        return limits.get("channel")
    if row.channel == "email":
        return limits.get("email")
    return None


class Budgets:
    """How many more messages each destination may get now, under its rate limit.

    `in_flight` are rows this sender is sending but has not recorded yet (the round before,
    while this one is claimed): not yet `sent` in the database, they count as sent now.
    """

    def __init__(
        self,
        session: Session,
        config: WarroomConfig,
        now: datetime,
        rows: list[Notification],
        in_flight: Iterable[Notification] = (),
    ) -> None:
        self.config, self.now = config, now
        # (channel, destination) -> (messages left, when the window frees up)
        self.left: dict[tuple[str, str], tuple[int, datetime]] = {}
        # channel -> (messages left, when the window frees up), for a provider's own limit
        self.channel_left: dict[str, tuple[int, datetime]] = {}
        for channel in sorted({r.channel for r in rows}):
            rate = _channel_rate(channel, config)
            if rate is not None:
                count, oldest = outbox.sent_on_channel(
                    session, channel=channel, since=now - rate.per
                )
                free_at = (oldest or now) + rate.per + timedelta(milliseconds=10)
                self.channel_left[channel] = (rate.count - count, free_at)
        limits = {(r.channel, r.destination): _limit_for(r, config) for r in rows}
        limited = {where: limit for where, limit in limits.items() if limit is not None}
        if limited:
            longest = max(limit.per for limit in limited.values())
            recent = outbox.sent_since(  # one query for the whole round
                session, destinations=sorted({d for _, d in limited}), since=now - longest
            )
            for (channel, destination), limit in limited.items():
                times = [
                    at
                    for c, d, at in recent
                    if c == channel and d == destination and at >= now - limit.per
                ]
                free_at = (min(times) if times else now) + limit.per + timedelta(milliseconds=10)
                self.left[(channel, destination)] = (limit.count - len(times), free_at)
        for row in in_flight:
            self.take(row)

    def take(self, row: Notification) -> datetime | None:
        """Use one message of the row's budget; return when to retry if there is none left."""
        whole = self.channel_left.get(row.channel)
        if whole is not None:  # the provider's limit for the whole account comes first
            left, free_at = whole
            if left <= 0:
                return free_at
            self.channel_left[row.channel] = (left - 1, free_at)
        where = (row.channel, row.destination)
        if where not in self.left:
            return None
        left, free_at = self.left[where]
        if left <= 0:
            return free_at
        self.left[where] = (left - 1, free_at)
        return None
