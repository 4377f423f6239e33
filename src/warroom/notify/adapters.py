"""Build the adapters warroom.yaml configures; absent integrations stay None."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from warroom.notify.ports import Adapters

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.notify")


def build_adapters(config: WarroomConfig) -> Adapters:
    """Create one client per configured integration (connections are opened lazily)."""
    from warroom.notify.jira import JiraIssues
    from warroom.notify.pagerduty import PagerDutyEvents
    from warroom.notify.slack import SlackChat
    from warroom.notify.smtp import SmtpMailer
    from warroom.notify.statuspage import AtlassianStatuspage
    from warroom.notify.webhook import SignedWebhook
    from warroom.notify.zoom import ZoomConference

    integrations = config.integrations
    adapters = Adapters()
    if integrations.slack is not None and integrations.slack.bot_token is not None:
        adapters.chat = SlackChat(integrations.slack)
    if integrations.smtp is not None:
        adapters.mailer = SmtpMailer(integrations.smtp)
    if integrations.zoom is not None:
        adapters.conference = ZoomConference(integrations.zoom)
    if integrations.pagerduty_events is not None:
        adapters.pager = PagerDutyEvents(integrations.pagerduty_events)
    if integrations.statuspage is not None:
        adapters.status_page = AtlassianStatuspage(integrations.statuspage)
    if integrations.outgoing_webhooks:
        adapters.webhook = SignedWebhook(integrations.outgoing_webhooks)
    if integrations.jira_issues is not None:
        adapters.tracker = JiraIssues(integrations.jira_issues)
    if integrations.twilio is not None:
        from warroom.notify.twilio import TwilioPhone

        adapters.phone = TwilioPhone(integrations.twilio)
    if integrations.push is not None and integrations.push.enabled:
        from warroom.notify.push import ApprisePush

        adapters.push = ApprisePush(integrations.push)
    adapters.closers = [
        a
        for a in (
            adapters.chat,
            adapters.mailer,
            adapters.conference,
            adapters.pager,
            adapters.status_page,
            adapters.webhook,
            adapters.tracker,
            adapters.phone,
            adapters.push,
        )
        if a is not None and hasattr(a, "close")
    ]
    return adapters


def channels_of(adapters: Adapters) -> set[str]:
    """Return the outbox channels that have an adapter."""
    present = {
        "chat": adapters.chat,
        "email": adapters.mailer,
        "conference": adapters.conference,
        "pager": adapters.pager,
        "status_page": adapters.status_page,
        "webhook": adapters.webhook,
        "tracker": adapters.tracker,
        "sms": adapters.phone,
        "voice": adapters.phone,
        "push": adapters.push,
    }
    return {name for name, adapter in present.items() if adapter is not None}
