"""Every loopback vendor at once (Slack, Zoom, PagerDuty Events, Statuspage, a webhook
receiver) and a real SMTP server, for the tests that wire every integration together."""

from __future__ import annotations

import email
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from tests.conftest import free_port, need
from tests.notify.ntfy_server import NtfyServer
from tests.notify.pagerduty_events_server import PagerDutyEventsServer
from tests.notify.slack_server import SlackServer
from tests.notify.statuspage_server import StatuspageServer
from tests.notify.twilio_server import TwilioServer
from tests.notify.webhook_receiver import WebhookReceiver
from tests.notify.zoom_server import ZoomServer

try:
    from aiosmtpd.controller import Controller
except ImportError:  # pragma: no cover - the dev extra installs it
    Controller = None  # type: ignore[assignment,misc]


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    envelopes: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Accept and keep the message."""
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        """Return (recipients, parsed message) of everything received, in order."""
        out = []
        for envelope in self.envelopes:
            raw = envelope.content.replace(b"\r\n", b"\n")
            parsed = email.message_from_bytes(raw, policy=default_policy)
            assert isinstance(parsed, EmailMessage)
            out.append((list(envelope.rcpt_tos), parsed))
        return out

    def to(self, address: str) -> list[EmailMessage]:
        """Return the messages delivered to `address`."""
        return [message for rcpts, message in self.messages() if address in rcpts]


@dataclass
class Vendors:
    """Every loopback vendor of one test."""

    slack: SlackServer
    mail: Mailbox
    smtp_port: int
    zoom: ZoomServer
    pager: PagerDutyEventsServer
    statuspage: StatuspageServer
    hooks: WebhookReceiver
    ntfy: NtfyServer | None = None  # push pages: contact methods name ntfy.url(topic)
    twilio: TwilioServer | None = None  # started when running_vendors was given one


@contextmanager
def running_vendors(
    *,
    zoom: dict[str, str],
    hook_secret: str,
    slack: SlackServer,
    pager: PagerDutyEventsServer,
    statuspage: StatuspageServer,
    ntfy: NtfyServer | None = None,
    twilio: TwilioServer | None = None,
    **smtp: Any,
) -> Iterator[Vendors]:
    """Start the vendors (and aiosmtpd with `smtp`'s options); stop them all after."""
    need(Controller is not None, "aiosmtpd is not installed")
    mail, port = Mailbox(), free_port()
    server = Controller(mail, hostname="127.0.0.1", port=port, **smtp)
    server.start()
    zoom_server = ZoomServer(**zoom)
    zoom_server.start()
    slack.start()
    slack.add_channel("incident-response")
    hooks = WebhookReceiver(hook_secret)
    for one in (pager, statuspage, hooks):
        one.start()
    optional = [one for one in (ntfy, twilio) if one is not None]
    for one in optional:
        one.start()
    try:
        yield Vendors(slack, mail, port, zoom_server, pager, statuspage, hooks, ntfy, twilio)
    finally:
        for running in (hooks, statuspage, pager, slack, zoom_server, *optional):
            running.stop()
        server.stop()
