"""Recording fakes of every port: tests and `--dev` use them instead of real vendors."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from warroom.notify.ports import (
    DeliveryError,
    IncidentCard,
    Meeting,
    PagerAction,
    PushNote,
    Ticket,
)


@dataclass
class Recorder:
    """A list of (method, arguments) calls; `fail_with` makes the next calls raise."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_with: DeliveryError | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, **arguments: Any) -> int:
        """Remember a call (or raise the configured failure); return its position."""
        if self.fail_with is not None:
            raise self.fail_with
        with self._lock:
            self.calls.append((method, arguments))
            return len(self.calls)

    def keys(self) -> list[str]:
        """Return the idempotency keys seen, in order."""
        return [str(arguments.get("key")) for _, arguments in self.calls]


class FakeChat(Recorder):
    """Chat that remembers channels and messages."""

    def create_channel(self, *, name: str, private: bool, key: str) -> str:
        """Record the channel; its id is derived from the name."""
        self.record("create_channel", name=name, private=private, key=key)
        return f"C{abs(hash(name)) % 10**9:09d}"

    def invite(self, *, channel: str, users: list[str], key: str) -> None:
        """Record the invitation."""
        self.record("invite", channel=channel, users=users, key=key)

    def post(self, *, channel: str, text: str, key: str, card: IncidentCard | None = None) -> str:
        """Record the message; its id is its position."""
        return f"{self.record('post', channel=channel, text=text, key=key, card=card)}.0"


class FakeMailer(Recorder):
    """Mailer that keeps the messages."""

    def send(self, *, to: list[str], subject: str, text: str, html: str | None, key: str) -> str:
        """Record the message; return a Message-ID made from the key."""
        self.record("send", to=to, subject=subject, text=text, html=html, key=key)
        return f"<{key}@warroom.invalid>"


class FakeConference(Recorder):
    """Conference service that hands out numbered meetings."""

    def create_meeting(self, *, topic: str, key: str) -> Meeting:
        """Record the meeting and return its link."""
        position = self.record("create_meeting", topic=topic, key=key)
        return Meeting(id=str(position), join_url=f"https://meet.invalid/j/{position}")


class FakePager(Recorder):
    """Paging service that records events."""

    def event(
        self,
        *,
        action: PagerAction,
        dedup_key: str,
        summary: str,
        severity: str,
        source: str,
        links: list[dict[str, str]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> str:
        """Record the event; answer with its dedup key."""
        self.record(
            "event",
            action=action,
            dedup_key=dedup_key,
            summary=summary,
            severity=severity,
            source=source,
            links=links or [],
            details=details or {},
        )
        return dedup_key


class FakeStatusPage(Recorder):
    """Status page that numbers the incidents it creates."""

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
        """Record the update; return the (new or given) incident id."""
        position = self.record(
            "upsert_incident",
            provider_id=provider_id,
            name=name,
            status=status,
            body=body,
            impact=impact,
            components=components,
            key=key,
        )
        return provider_id or f"sp{position}"


class FakeWebhook(Recorder):
    """Webhook sender that records the events."""

    def post(self, *, url: str, secret: str, event: str, body: dict[str, Any], key: str) -> int:
        """Record the event and answer 200."""
        self.record("post", url=url, event=event, body=body, key=key)
        return 200


class FakeTracker(Recorder):
    """Issue tracker that numbers its issues FAKE-1, FAKE-2, … and finds them by ref."""

    def __init__(self) -> None:
        super().__init__()
        self.issues: dict[str, Ticket] = {}

    def create_issue(self, *, ticket: Ticket, key: str) -> str:
        """Record the issue (the one already made for this ref, if there is one)."""
        self.record("create_issue", ticket=ticket, key=key)
        with self._lock:
            found = next((k for k, t in self.issues.items() if t.ref == ticket.ref), None)
            if found is not None:
                return found
            issue = f"FAKE-{len(self.issues) + 1}"
            self.issues[issue] = ticket
            return issue

    def update_issue(
        self, *, issue: str | None, ref: str, changes: dict[str, Any], key: str
    ) -> str:
        """Record the change; fail like a tracker when no issue matches."""
        self.record("update_issue", issue=issue, ref=ref, changes=changes, key=key)
        with self._lock:
            found = issue or next((k for k, t in self.issues.items() if t.ref == ref), None)
            if found is None or found not in self.issues:
                raise DeliveryError(f"no issue for {ref}", permanent=True)
            known = {k: v for k, v in changes.items() if k in ("summary", "owner", "status")}
            due = changes.get("due_date", self.issues[found].due_date)
            due = date.fromisoformat(due) if isinstance(due, str) else due
            self.issues[found] = replace(self.issues[found], due_date=due, **known)
            return found


class FakePhone(Recorder):
    """Text messages and calls, numbered SM1…, CA1…; hang-ups are recorded too."""

    def send_sms(self, *, to: str, body: str, key: str, status_callback: str | None) -> str:
        """Record the text; return a message id."""
        return f"SM{self.record('sms', to=to, body=body, key=key, callback=status_callback)}"

    def call(
        self, *, to: str, text: str, gather_url: str | None, key: str, status_callback: str | None
    ) -> str:
        """Record the call; return a call id."""
        position = self.record(
            "call", to=to, text=text, gather_url=gather_url, key=key, callback=status_callback
        )
        return f"CA{position}"

    def hang_up(self, *, call_id: str) -> None:
        """Record the hang-up."""
        self.record("hang_up", call_id=call_id)


class FakePush(Recorder):
    """Push notes, kept with the URL they were sent to."""

    def push(self, *, url: str, note: PushNote, key: str) -> str:
        """Record the note; return its key."""
        self.record("push", url=url, note=note, key=key)
        return key
