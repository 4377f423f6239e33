"""Intake flow: one transaction per delivery, then runbook files and metrics."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from warroom.core.clock import Clock
from warroom.detection import deliveries, heartbeats, metrics
from warroom.detection.routing import Router
from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
from warroom.detection.service import Decide, Intake
from warroom.incidents.actor import Access
from warroom.incidents.flows import IncidentFlows, RunbookPort, TemplateChoice
from warroom.incidents.visibility import team_types, visible
from warroom.storage.db import Database
from warroom.storage.group_commit import GroupCommitter

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.detection")
FILE_WRITERS = 4  # threads writing one drain's runbook files


@dataclass
class IntakeFlows:
    """Turns parsed deliveries into stored alerts and incidents."""

    db: Database
    config: Callable[[], WarroomConfig]
    clock: Clock
    runbooks: RunbookPort
    incidents: IncidentFlows
    # Keyed by the config object itself, held here: an id() could be reused by a new config
    # once the old one is freed, and the old routes would stay in force after a reload.
    _router: tuple[WarroomConfig, Router] | None = field(default=None, init=False)

    def router(self) -> Router:
        """Return the router for the configuration in force (rebuilt after a reload)."""
        config = self.config()
        cached = self._router
        if cached is None or cached[0] is not config:
            cached = (config, Router(config.routes, config.detection, list(config.severities)))
            self._router = cached
        return cached[1]

    def __post_init__(self) -> None:
        self._committer = GroupCommitter(self.db, name="intake", after_commit=self._published)
        # Files are written (and fsynced) here, not on the writer thread: the next drain's
        # transaction runs while this one's files go to disk. One thread keeps them in order.
        self._files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-files")
        # A storm's new incidents' files are written by several threads at once: a file's fsync
        # waits on the disk (milliseconds), and one thread writing them in turn capped the
        # intake near 400 new incidents a second. One drain's files are done before its answers.
        self._writers = ThreadPoolExecutor(max_workers=FILE_WRITERS, thread_name_prefix="files")
        self._lock = threading.Lock()
        self._pending: list[_Delivery] = []
        self._in_flight: list[_Delivery] = []  # taken by a drain, not yet answered

    def ingest(
        self,
        *,
        source: str,
        integration: str,
        alerts: list[AlertIn],
        delivery_ids: tuple[str, ...] = (),
    ) -> IngestResult:
        """Store a delivery's alerts durably and return what happened (blocks until committed)."""
        return self.submit(
            source=source, integration=integration, alerts=alerts, delivery_ids=delivery_ids
        ).result()

    def submit(
        self,
        *,
        source: str,
        integration: str,
        alerts: list[AlertIn],
        delivery_ids: tuple[str, ...] = (),
    ) -> Future[IngestResult]:
        """Queue a delivery; deliveries waiting together are ingested as one and committed once.

        The answer comes after the commit; a delivery that fails fails alone and keeps nothing.
        A delivery with `delivery_ids` already seen (a replay or a retry) is answered as a
        duplicate and changes nothing; its ids are stored with its effect, in one transaction.
        """
        delivery = _Delivery(source, integration, alerts, self.clock.now(), Future(), delivery_ids)
        with self._lock:
            self._pending.append(delivery)
            first = len(self._pending) == 1
        if first:  # one drain job takes everything queued by the time it runs
            drain = self._committer.submit(self._drain)
            drain.add_done_callback(self._fail_in_flight)
        return delivery.future

    def _drain(self, session: Session) -> list[tuple[_Delivery, IngestResult | Exception]]:
        """Ingest every queued delivery: one run per integration, each in its own savepoint."""
        with self._lock:
            taken, self._pending = self._pending, []
            self._in_flight.extend(taken)
        groups: dict[tuple[str, str], list[_Delivery]] = {}
        for delivery in taken:
            groups.setdefault((delivery.source, delivery.integration), []).append(delivery)
        # Each alert is routed once per drain: the heartbeats locked first are those it pings.
        routes = {key: self._decider(*key) for key in groups}
        self._lock_heartbeats(session, groups, routes)
        outcomes: list[tuple[_Delivery, IngestResult | Exception]] = []
        for (source, integration), members in groups.items():
            decide = routes[(source, integration)]
            try:
                with session.begin_nested():
                    # Claimed inside the savepoint: if the group fails, so do its claims.
                    fresh = [m for m in members if self._claim(session, m)]
                    results = self._intake(
                        session, source, integration, members[0].now, decide
                    ).ingest_many([m.alerts for m in fresh])
                done = dict(zip(map(id, fresh), results, strict=True))
                outcomes += [(m, done[id(m)] if id(m) in done else _duplicate(m)) for m in members]
            except Exception:  # one of them is bad: run each alone so only it fails
                for member in members:
                    try:
                        with session.begin_nested():
                            if self._claim(session, member):
                                result = self._intake(
                                    session, source, integration, member.now, decide
                                ).ingest(member.alerts)
                            else:
                                result = _duplicate(member)
                        outcomes.append((member, result))
                    except Exception as exc:
                        outcomes.append((member, exc))
        return outcomes

    def _lock_heartbeats(
        self,
        session: Session,
        groups: dict[tuple[str, str], list[_Delivery]],
        routes: dict[tuple[str, str], Decide],
    ) -> None:
        """Lock the rows of the heartbeats this drain pings, before any group opens an incident.

        Within a group the pings come first (Intake.ingest_many), but across groups an earlier
        group's new incident (a storm's advisory lock on PostgreSQL) would come before a later
        group's ping (the heartbeat's row lock): the reverse of the engine's heartbeat check,
        which locks the row and then opens an incident. Locked here, in the drain's own
        savepoint, and pinged in each group's: a delivery that fails still keeps nothing, its
        pings and delivery ids included. By id, so two processes' drains lock them alike.
        """
        if not self.config().heartbeats:
            return
        wanted: set[str] = set()
        for key, members in groups.items():
            for alert in (a for m in members for a in m.alerts):
                if not heartbeats.is_ping(alert):
                    continue
                try:
                    heartbeat = routes[key](alert).heartbeat
                except Exception:  # its group fails on it, and answers why
                    continue
                if heartbeat is not None:
                    wanted.add(heartbeat)
        if not wanted:
            return
        try:
            with session.begin_nested():
                heartbeats.lock(session, wanted)
        except Exception:  # the groups lock them as they ping: the deliveries need not fail
            log.exception("cannot lock the heartbeats of a drain first")

    def _claim(self, session: Session, delivery: _Delivery) -> bool:
        """Record the delivery's ids; False for one already seen."""
        return deliveries.claim(
            session, source=delivery.source, ids=delivery.delivery_ids, now=delivery.now
        )

    def _decider(self, source: str, integration: str) -> Decide:
        """Return how one integration's alerts are routed now, each alert decided once."""
        router = self.router()
        decided: dict[int, RouteDecision] = {}  # by id(alert): the drain holds the alerts

        def decide(alert: AlertIn) -> RouteDecision:
            found = decided.get(id(alert))
            if found is None:
                found = decided[id(alert)] = route(alert)
            return found

        def route(alert: AlertIn) -> RouteDecision:
            context = {
                "source": source,
                "integration": integration,
                "title": alert.title,
                "annotations": alert.annotations,
            }
            decision = router.decide(alert.labels, severity_hint=alert.severity, context=context)
            if alert.drill is not None and decision.heartbeat is not None:
                # A drill's alert never pings a real heartbeat: it would hide a real outage.
                return replace(decision, heartbeat=None)
            return decision

        return decide

    def _intake(
        self, session: Session, source: str, integration: str, now: datetime, decide: Decide
    ) -> Intake:
        """Build the intake run for one integration with the routing in force."""
        config = self.config()

        def choose(incident_type: str | None, service: str | None) -> TemplateChoice:
            return self.runbooks.choose_template(
                config, runbook=None, incident_type=incident_type, service=service
            )

        return Intake(
            session=session,
            config=config,
            decide=decide,
            choose_template=choose,
            now=now,
            source=source,
            integration=integration,
            rules=self.incidents.rules,
        )

    def ping(self, heartbeat_id: str) -> heartbeats.Pinged:
        """Record a heartbeat's ping (one transaction); rewrite the file of an incident it ended."""
        with self.db.transaction() as session:
            pinged = heartbeats.ping(
                session,
                config=self.config(),
                heartbeat_id=heartbeat_id,
                now=self.clock.now(),
                rules=self.incidents.rules,
            )
        if pinged.incident is not None:
            try:
                self.incidents.refresh(
                    pinged.incident, "resolve" if pinged.resolved else "mitigate"
                )
            except Exception:  # committed; the file catches up on the incident's next change
                log.exception("cannot refresh INC-%s after a heartbeat ping", pinged.incident)
        return pinged

    def heartbeats(self, access: Access) -> list[heartbeats.HeartbeatStatus]:
        """Return every configured heartbeat `access` may know of, as it is now."""
        config = self.config()
        types = None if access.sees_everything else team_types(config, access)
        with self.db.session() as session:
            return heartbeats.statuses(
                session, config=config, visible=visible(config, access), types=types
            )

    def close(self) -> None:
        """Finish queued deliveries, then their files, and stop both threads."""
        self._committer.close()
        self._files.shutdown(wait=True)
        self._writers.shutdown(wait=True)

    def _published(self, drains: list[list[tuple[_Delivery, IngestResult | Exception]]]) -> None:
        """After a commit: count, then hand the files and the answers to the files thread."""
        opened: set[int] = set()
        ended: set[int] = set()  # resolved by a heartbeat's ping: the postmortem starts
        touched: list[int] = []
        outcomes = [outcome for drain in drains for outcome in drain]
        for _, result in outcomes:
            if isinstance(result, Exception):
                continue
            metrics.record(result.source, result)
            if result.duplicate:
                metrics.rejected(result.source, "duplicate")
            for _number, severity, inside in result.refired:
                metrics.refired(severity, inside=inside)
            opened.update(result.opened)
            ended.update(result.ended)
            touched.extend(n for n in result.touched if n not in touched)
            if result.opened:
                log.info(
                    "%s opened %s", result.source, ", ".join(f"INC-{n}" for n in result.opened)
                )
        changes = [
            (number, "declared" if number in opened else "resolve" if number in ended else "alert")
            for number in touched
        ]
        with self._lock:  # committed: a later drain's failure must not fail these
            answered = {id(delivery) for delivery, _ in outcomes}
            self._in_flight = [d for d in self._in_flight if id(d) not in answered]
        try:
            answering = self._files.submit(self._answer, changes, outcomes)
        except RuntimeError:  # closing: write and answer here
            self._answer(changes, outcomes)
        else:
            answering.add_done_callback(_log_failure)

    def _answer(
        self,
        changes: list[tuple[int, str]],
        outcomes: list[tuple[_Delivery, IngestResult | Exception]],
    ) -> None:
        """Rewrite each touched incident's file once, then answer: an answer means the
        alerts are committed and the files written."""
        size = max(1, -(-len(changes) // FILE_WRITERS))  # each writer its own, in order
        shares = [changes[start : start + size] for start in range(0, len(changes), size)]
        # Every share is waited for, failed or not: an answer means the files are written.
        writing = [self._writers.submit(self.incidents.refresh_many, s) for s in shares]
        for share, done in zip(shares, writing, strict=True):
            try:
                done.result()
            except Exception:  # committed: the files catch up on the next change or a sync
                numbers = ", ".join(f"INC-{number}" for number, _ in share)
                log.exception("cannot rewrite the runbook files of %s", numbers)
        for delivery, result in outcomes:
            if delivery.future.done():  # its waiter gave up (a cancelled request): the rest wait
                continue
            if isinstance(result, Exception):
                delivery.future.set_exception(result)
            else:
                delivery.future.set_result(result)

    def _fail_in_flight(self, drain: Future[Any]) -> None:
        """If the commit itself failed, nothing of the batch was kept: fail its deliveries."""
        error = drain.exception()
        if error is None:
            return
        with self._lock:
            failed, self._in_flight = self._in_flight, []
        for delivery in failed:
            if not delivery.future.done():
                delivery.future.set_exception(error)


@dataclass
class _Delivery:
    """A parsed delivery waiting for the next group commit."""

    source: str
    integration: str
    alerts: list[AlertIn]
    now: datetime
    future: Future[IngestResult]
    delivery_ids: tuple[str, ...] = ()


def _log_failure(answering: Future[None]) -> None:
    """Say why the files thread failed a batch: nobody else reads its future."""
    error = None if answering.cancelled() else answering.exception()
    if error is not None:
        log.error("answering a batch of deliveries failed", exc_info=error)


def _duplicate(delivery: _Delivery) -> IngestResult:
    """Answer a delivery seen before: accepted, nothing done."""
    return IngestResult(source=delivery.source, duplicate=True)
