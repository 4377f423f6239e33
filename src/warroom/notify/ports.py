"""The small Protocols phases and the sender see; vendor modules implement them.

Every call carries the outbox row's idempotency key (`key`) so a receiver that sees the
same message twice (a crash between sending and recording) can drop the second one: it
goes out as an `Idempotency-Key` header, a Message-ID, or message metadata, whichever the
vendor's format has room for.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol


class DeliveryError(Exception):
    """A send failed; `permanent` ones (the vendor refused the request) are not retried.

    `retry_after` (seconds) is the vendor's own wish (HTTP Retry-After), honoured by the outbox.
    """

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


def retry_seconds(value: object) -> float | None:
    """Return an HTTP Retry-After given in seconds (what Slack and Jira send) as a number,
    at most a day; None for anything else (the outbox's own backoff decides)."""
    try:
        seconds = float(str(value)) if value else None
    except ValueError:  # an HTTP date, or nonsense
        return None
    if seconds is None or not math.isfinite(seconds):  # "inf" would overflow a timedelta
        return None
    return min(max(0.0, seconds), 86_400.0)


@dataclass(frozen=True)
class IncidentCard:
    """What a message needs to show an incident (chat card, email, status page)."""

    number: int
    title: str
    severity: str
    severity_name: str
    status: str
    summary: str = ""
    service: str | None = None
    commander: str | None = None  # person id
    commander_name: str | None = None
    url: str | None = None  # the incident's page in warroom
    conference_url: str | None = None
    chat_channel: str | None = None  # e.g. "#inc-42-checkout-down"
    visibility: str = "public"
    detected_at: datetime | None = None
    drill: bool = False  # a practice incident: its title starts with [DRILL], and so on

    @property
    def ref(self) -> str:
        """Return the incident's reference, e.g. INC-42."""
        return f"INC-{self.number}"


@dataclass(frozen=True)
class Meeting:
    """A conference room created for an incident."""

    id: str
    join_url: str


class Chat(Protocol):
    """A chat workspace (Slack): incident channels, messages, buttons."""

    def create_channel(self, *, name: str, private: bool, key: str) -> str:
        """Create the channel (or find it if it exists); return its id."""
        ...

    def invite(self, *, channel: str, users: list[str], key: str) -> None:
        """Invite chat user ids to a channel (already-in-channel is not an error)."""
        ...

    def post(self, *, channel: str, text: str, key: str, card: IncidentCard | None = None) -> str:
        """Post a message (with the incident card and its buttons when given); return its id."""
        ...


class Mailer(Protocol):
    """Outgoing email."""

    def send(self, *, to: list[str], subject: str, text: str, html: str | None, key: str) -> str:
        """Send one message to every address; return its Message-ID."""
        ...


class Conference(Protocol):
    """Video meetings (Zoom)."""

    def create_meeting(self, *, topic: str, key: str) -> Meeting:
        """Create a meeting that starts now."""
        ...


PagerAction = Literal["trigger", "acknowledge", "resolve"]


class Pager(Protocol):
    """An external paging service (PagerDuty Events API v2)."""

    def event(
        self,
        *,
        action: PagerAction,
        dedup_key: str,
        summary: str,
        severity: str,
        source: str,
        links: list[dict[str, str]] = ...,
        details: dict[str, Any] = ...,
    ) -> str:
        """Send one event; return the dedup key the service answered with."""
        ...


class StatusPage(Protocol):
    """A hosted status page (Atlassian Statuspage)."""

    def upsert_incident(
        self,
        *,
        provider_id: str | None,
        name: str,
        status: str,
        body: str,
        impact: str,
        components: dict[str, str],
        key: str,
    ) -> str:
        """Create the incident (provider_id None) or add an update; return the incident id."""
        ...


class Webhook(Protocol):
    """An outgoing, signed HTTP webhook."""

    def post(self, *, url: str, secret: str, event: str, body: dict[str, Any], key: str) -> int:
        """POST the event; return the receiver's HTTP status (2xx)."""
        ...


@dataclass(frozen=True)
class Ticket:
    """A postmortem action item as an issue tracker (Jira) shows it."""

    ref: str  # e.g. "action-12": kept on the issue (a label) so a retried create finds it
    summary: str
    description: str
    due_date: date | None
    owner: str | None  # warroom's owner; the tracker maps it to one of its users
    status: str  # open | done | wontfix


class TicketTracker(Protocol):
    """An issue tracker (Jira) that holds action items as issues."""

    def create_issue(self, *, ticket: Ticket, key: str) -> str:
        """Create the issue unless one with the ticket's ref exists already; return its key.

        The check is what makes a retry after a lost answer (or a resend) safe: trackers have
        no idempotency key.
        """
        ...

    def update_issue(
        self, *, issue: str | None, ref: str, changes: dict[str, Any], key: str
    ) -> str:
        """Apply changes (summary, due_date, owner, status) to the issue; return its key.

        `issue` None means the key was not known when the change was queued: find it by `ref`.
        """
        ...


class Phone(Protocol):
    """Text messages and voice calls (Twilio)."""

    def send_sms(self, *, to: str, body: str, key: str, status_callback: str | None) -> str:
        """Send one text message; return the provider's message id (Twilio's SID)."""
        ...

    def call(
        self, *, to: str, text: str, gather_url: str | None, key: str, status_callback: str | None
    ) -> str:
        """Place a call that reads `text` and asks to press 1 (sent to `gather_url`); return
        the provider's call id (SID)."""
        ...

    def hang_up(self, *, call_id: str) -> None:
        """End a call that is still ringing or in progress (it was acknowledged elsewhere)."""
        ...


@dataclass(frozen=True)
class PushNote:
    """One push notification: what it says, how urgent, and where Acknowledge leads."""

    title: str
    body: str
    urgency: Literal["min", "low", "default", "high", "max"] = "default"
    click_url: str | None = None  # opens the incident
    ack_url: str | None = None  # the one-click acknowledge link (an action button on ntfy)


class Push(Protocol):
    """Mobile and desktop push through one library (apprise): one URL per contact method."""

    def push(self, *, url: str, note: PushNote, key: str) -> str:
        """Deliver the note to the service the URL names; return an id for the record."""
        ...


@dataclass
class Adapters:
    """The adapters configured in warroom.yaml; None where an integration is absent."""

    chat: Chat | None = None
    mailer: Mailer | None = None
    conference: Conference | None = None
    pager: Pager | None = None
    status_page: StatusPage | None = None
    webhook: Webhook | None = None
    tracker: TicketTracker | None = None
    phone: Phone | None = None
    push: Push | None = None
    closers: list[Any] = field(default_factory=list)  # objects with close(), for shutdown
    # Sends in flight, so that adapters of a replaced configuration close after their last
    # send rather than under it (or never: left to the garbage collector).
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _in_flight: int = field(default=0, repr=False, compare=False)
    _retired: bool = field(default=False, repr=False, compare=False)
    closed: bool = field(default=False, compare=False)

    def acquire(self) -> bool:
        """Count a send starting on these adapters; False once retired (ask for new ones)."""
        with self._lock:
            if self._retired:
                return False
            self._in_flight += 1
            return True

    def release(self) -> None:
        """Count a send finished; the last one on retired adapters closes them."""
        with self._lock:
            self._in_flight -= 1
            last = self._retired and self._in_flight == 0 and not self.closed
            self.closed = self.closed or last
        if last:
            self.close()

    def retire(self) -> None:
        """Take no more sends; close now, or after the last send in flight."""
        with self._lock:
            self._retired = True
            idle = self._in_flight == 0 and not self.closed
            self.closed = self.closed or idle
        if idle:
            self.close()

    @property
    def in_flight(self) -> int:
        """Return how many sends are using these adapters now."""
        return self._in_flight

    def close(self) -> None:
        """Close every adapter that holds connections (one failing does not stop the rest)."""
        for closer in self.closers:
            try:
                closer.close()
            except Exception:
                logging.getLogger("warroom.notify").exception(
                    "closing %s failed", type(closer).__name__
                )
