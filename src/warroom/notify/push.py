"""Push notifications through apprise: one URL per contact method (ntfy, Pushover, Teams…)."""

from __future__ import annotations

import logging

import apprise

from warroom.notify.ports import DeliveryError, PushNote
from warroom.notify.push_config import PushConfig

log = logging.getLogger("warroom.notify")


class ApprisePush:
    """Send a push note to the service a contact method's apprise URL names."""

    def __init__(self, config: PushConfig) -> None:
        self.config = config

    def push(self, *, url: str, note: PushNote, key: str) -> str:
        """Deliver the note; raise DeliveryError when apprise cannot."""
        scheme = url.split("://", 1)[0].lower()
        if scheme not in self.config.schemes:
            raise DeliveryError(
                f"push URLs of type {scheme}:// are not allowed (integrations.push.schemes)",
                permanent=True,
            )
        sender = apprise.Apprise()
        if not sender.add(url):
            raise DeliveryError(f"apprise cannot read this {scheme}:// URL", permanent=True)
        if not sender.notify(title=note.title, body=note.body):
            raise DeliveryError(f"the {scheme}:// service did not take the notification")
        return key
