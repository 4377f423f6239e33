"""What may be pruned, kind by kind: the table, and which of its rows are past their time.

Each condition is the whole rule: it is asked again in the statement that deletes, so a row
that changed since it was picked (a dead message resent, an incident reopened) stays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, exists, not_, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from warroom.audit import service as audit
from warroom.audit.chain import timestamp
from warroom.auth.oidc_models import OidcLogin
from warroom.auth.sessions import BrowserSession
from warroom.config.retention import RetentionConfig
from warroom.detection import deliveries
from warroom.detection.models import Alert, SeenDelivery, Silence
from warroom.escalation.models import ACTIVE, PageRun
from warroom.incidents.models import Incident
from warroom.notify.models import Notification

# Outbox statuses nothing will change again (pending, sending and failed are still at work).
FINISHED = ("sent", "dead", "cancelled")


@dataclass(frozen=True)
class Kind:
    """One kind of prunable row: its name, its table, how long it is kept, and the rule."""

    name: str
    table: Table
    older_than: timedelta  # zero: as soon as it expired
    past: Callable[[datetime], ColumnElement[bool]]  # the rows gone by this cutoff
    # What deleting a batch must leave in the audit log, in the batch's transaction:
    # (session, ids being deleted, cutoff, actor, now).
    record: Callable[[Session, list[int], datetime, str, datetime], None] | None = None

    @property
    def key(self) -> ColumnElement[int]:
        """Return the table's integer primary key (batches are taken in its order)."""
        return self.table.c.id


def _resolved_before(incident_id: QueryableAttribute[Any], cutoff: datetime) -> ColumnElement[bool]:
    """Rows of an incident go only once it has been resolved (or closed) for the retention.

    An open incident still reads its outbox (was PagerDuty told? was the meeting made?) and its
    runs; a reopened one is open again, and its rows stay.
    """
    return incident_id.in_(
        select(Incident.id).where(
            Incident.status.in_(("resolved", "closed")), Incident.resolved_at < cutoff
        )
    )


def _sessions(cutoff: datetime) -> ColumnElement[bool]:
    return or_(BrowserSession.expires_at < cutoff, BrowserSession.ended_at < cutoff)


def _sessions_never_ended(
    session: Session, ids: list[int], cutoff: datetime, actor: str, now: datetime
) -> None:
    """Record, once for the batch, the sessions whose end the audit log never got.

    Signing out, an expiry a request found (`session.expired`) and a user change that ended
    them (`sessions_ended`) are recorded; a session that timed out unused, its cookie never
    seen again, is not: its row going is the last trace of its end. One entry a batch, not
    one a session (a first prune may find thousands), naming their row numbers as `signin`
    does.
    """
    silent = list(
        session.scalars(
            select(BrowserSession.id)
            .where(BrowserSession.id.in_(ids), BrowserSession.ended_at.is_(None))
            .order_by(BrowserSession.id)
        )
    )
    if silent:
        audit.record(
            session,
            "session.pruned",
            actor=actor,
            at=now,
            target="sessions",
            details={"count": len(silent), "sessions": silent, "expired_before": timestamp(cutoff)},
        )


def _sign_in_flows(cutoff: datetime) -> ColumnElement[bool]:
    return OidcLogin.expires_at <= cutoff


def _delivery_ids(cutoff: datetime) -> ColumnElement[bool]:
    return SeenDelivery.received_at < cutoff


def _notifications(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        Notification.status.in_(FINISHED),
        Notification.created_at < cutoff,
        or_(
            Notification.incident_id.is_(None),
            _resolved_before(Notification.incident_id, cutoff),
        ),
    )


def _page_runs(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        PageRun.state != ACTIVE,
        PageRun.updated_at < cutoff,
        _resolved_before(PageRun.incident_id, cutoff),
    )


def _alerts(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        Alert.incident_id.is_(None),
        Alert.is_open.is_(False),
        Alert.received_at < cutoff,  # ix_alerts_received_at narrows the search
        Alert.last_seen_at < cutoff,
    )


def _silences(cutoff: datetime) -> ColumnElement[bool]:
    # One an incident's alert names stays: the record says which silence held that alert.
    named = exists().where(Alert.silence_id == Silence.id, Alert.incident_id.is_not(None))
    return and_(Silence.ends_at < cutoff, not_(named))


def kinds(retention: RetentionConfig) -> list[Kind]:
    """Return every prunable kind with the retention in force, in the order they are pruned."""

    def table(model: type) -> Table:
        found = model.__table__  # type: ignore[attr-defined]
        assert isinstance(found, Table)
        return found

    return [
        Kind(
            "sessions", table(BrowserSession), retention.sessions, _sessions, _sessions_never_ended
        ),
        Kind("sign_in_flows", table(OidcLogin), timedelta(0), _sign_in_flows),
        # Only here: the intake no longer deletes old ones on its writer thread.
        Kind("delivery_ids", table(SeenDelivery), deliveries.RETENTION, _delivery_ids),
        Kind("notifications", table(Notification), retention.notifications, _notifications),
        Kind("page_runs", table(PageRun), retention.page_runs, _page_runs),
        # Alerts before silences: an alert deleted first is one fewer to unlink from its silence.
        Kind("alerts", table(Alert), retention.alerts, _alerts),
        Kind("silences", table(Silence), retention.silences, _silences),
    ]
