"""Drills end to end: start one, inject its due steps (an engine module), review it.

Every step is a row with its due time. The engine injects what is due through the normal
intake path, as a delivery whose id is the step's: a step sent again after a crash (sent,
not yet marked done) is answered as a duplicate, so a restart neither loses nor doubles one.
Of several engines, the one that claims a step sends it: the claim is a short transaction
that moves the step's due time a lease ahead (as the outbox leases its messages), the send
runs outside any transaction, and another short one marks the step done. A claim lost with
its engine falls due again when its lease ends.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.core.clock import Clock
from warroom.core.errors import NotFound
from warroom.detection.schemas import AlertIn, IngestResult
from warroom.drills import scenario as scenarios
from warroom.drills import service
from warroom.drills.claims import CLAIMED, LEASE, Done, claim, is_done, mark, release
from warroom.drills.models import Drill, DrillStep
from warroom.drills.review import Review, render_html, render_markdown, review
from warroom.drills.schemas import DrillOut
from warroom.engine.module import Outcome
from warroom.engine.runner import instance_name
from warroom.incidents import service as incidents
from warroom.incidents.actor import Access, Actor
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES
from warroom.incidents.visibility import check_visible
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.drills")
_INCIDENT = re.compile(r"INC-\d+")
BATCH = 100  # steps injected per round; more due: the round after, at once
# A step that failed is tried again after a pause that doubles with each failure, up to the
# cap: without it the engine would retry at once, round after round, while the cause lasts.
RETRY_FIRST = timedelta(seconds=1)
RETRY_MAX = timedelta(seconds=60)
# Due steps another engine claimed meanwhile are looked at again this soon (a claimed step's
# due time is its lease's end: this is for the moment between the two).
HELD_ELSEWHERE = timedelta(milliseconds=50)
# How long starting a drill waits for its first steps another engine has claimed, polling.
OWN_WAIT, OWN_POLL = 10.0, 0.05


class Inject(Protocol):
    """The intake path (detection/flows.py IntakeFlows.ingest)."""

    def __call__(
        self,
        *,
        source: str,
        integration: str,
        alerts: list[AlertIn],
        delivery_ids: tuple[str, ...] = (),
    ) -> IngestResult:
        """Store a delivery's alerts durably and return what happened."""
        ...


@dataclass
class DrillFlows:
    """Start drills and run their steps; also the engine module that injects due steps."""

    db: Database
    config: Callable[[], WarroomConfig]
    clock: Clock
    inject: Inject
    wake: Callable[[], None] = lambda: None
    name: str = "drills"
    interval: timedelta = field(default=timedelta(0))
    owner: str = field(default_factory=instance_name)  # names this engine in its claims
    # Failed steps: id -> (failures so far, not retried before). In memory, as drill_steps has
    # no column for it: a restarted engine tries a failed step again at once, then backs off.
    _failed: dict[int, tuple[int, datetime]] = field(default_factory=dict, init=False)
    _failures_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def start(
        self, *, scenario: str | None, service_id: str | None, actor: Actor, access: Access
    ) -> DrillOut:
        """Start a drill from a shipped scenario's name or a scenario's YAML; inject step 0.

        The answer names the drill's incident only if `access` may see it (a breach drill may
        open a restricted incident its starter is not let into).
        """
        parsed = scenarios.load(scenario)
        now = self.clock.now()
        with self.db.transaction() as session:
            drill = service.start(
                session,
                config=self.config(),
                scenario=parsed,
                service=service_id,
                actor=actor,
                now=now,
            )
            drill_id = drill.id
            audit.record(
                session,
                "drill.start",
                actor=actor.who,
                at=now,
                target=f"drill-{drill_id}",
                details={"scenario": parsed.name, "service": drill.service},
            )
        log.info("drill %s (%s) started by %s", drill_id, parsed.name, actor.who)
        # This drill's first steps now, so the answer names the incident and says what each
        # did. Its own only: other drills' due steps are the engine's, not this request's. The
        # engine (woken by the commit) may claim one first: then this request waits for it to
        # be done, and the engine skips those this request claimed.
        self._run_own(drill_id, now)
        self.wake()
        with self.db.session() as session:
            drill = service.get(session, drill_id)
            incident = service.incident_info(session, drill)
            out = DrillOut.of(drill, service.steps(session, drill_id), incident=incident)
            try:
                _check_visible(session, self.config(), access, drill)
            except NotFound:
                return _redacted(out)
            return out

    def show(self, drill_id: int, *, access: Access) -> DrillOut:
        """Return a drill with its review; NotFound if its incident is hidden from `access`."""
        with self.db.session() as session:
            drill = service.get(session, drill_id)
            _check_visible(session, self.config(), access, drill)
            found = review(session, drill=drill, config=self.config())
            incident = service.incident_info(session, drill)
            return DrillOut.of(drill, service.steps(session, drill_id), found, incident=incident)

    def update(self, now: datetime) -> Outcome:
        """Inject every due step (an engine round); return when the next one falls due."""
        resting = [i for i, (_, retry_at) in dict(self._failed).items() if retry_at > now]
        with self.db.session() as session:
            due = list(
                session.execute(
                    select(DrillStep.id, DrillStep.drill_id)
                    .where(
                        DrillStep.done_at.is_(None),
                        DrillStep.due_at <= now,
                        DrillStep.id.not_in(resting),
                    )
                    .order_by(DrillStep.due_at, DrillStep.id)
                    .limit(BATCH)
                )
            )
        for step_id, drill_id in due:
            self._attempt(step_id, drill_id, now, wait=False)
        if len(due) == BATCH:
            return Outcome(backlog=True)
        next_at = self._next_at()
        if next_at is not None and next_at <= now:
            # Due, yet not run: another engine claimed them meanwhile. Without a pause this
            # module would ask again at once, round after round.
            next_at = now + HELD_ELSEWHERE
        return Outcome(next_at=next_at)

    def _run_own(self, drill_id: int, now: datetime) -> None:
        """Run the due steps of one drill (at its start), waiting for any another engine holds."""
        with self.db.session() as session:
            due = list(
                session.scalars(
                    select(DrillStep.id)
                    .where(
                        DrillStep.drill_id == drill_id,
                        DrillStep.done_at.is_(None),
                        or_(DrillStep.due_at <= now, DrillStep.outcome.startswith(CLAIMED)),
                    )
                    .order_by(DrillStep.offset_seconds, DrillStep.id)
                )
            )
        for step_id in due:
            self._attempt(step_id, drill_id, now, wait=True)

    def _attempt(self, step_id: int, drill_id: int, now: datetime, *, wait: bool) -> None:
        """Run one step; on failure log one line and rest it (one broken step holds back none)."""
        try:
            self._run(step_id, drill_id, now, wait=wait)
        except Exception as exc:
            with self._failures_lock:  # the request's thread and the engine's may both fail it
                failures = self._failed.get(step_id, (0, now))[0] + 1
                pause = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
                self._failed[step_id] = (failures, now + pause)
            log.warning(
                "drill %s: step %s failed (%d in a row), next try in %ss: %s: %s",
                drill_id,
                step_id,
                failures,
                int(pause.total_seconds()),
                type(exc).__name__,
                exc,
                exc_info=failures == 1,  # the trace once; then one line per try
            )
        else:
            self._failed.pop(step_id, None)

    def _next_at(self) -> datetime | None:
        """Return when a step next falls due: the earliest due time, or a failed one's retry."""
        failed = dict(self._failed)  # a copy: `start` may add to it from a request's thread
        with self.db.session() as session:
            undone = set(
                session.scalars(
                    select(DrillStep.id).where(
                        DrillStep.id.in_(list(failed)), DrillStep.done_at.is_(None)
                    )
                )
            )
            for step_id in set(failed) - undone:  # done meanwhile (by another engine)
                self._failed.pop(step_id, None)
                del failed[step_id]
            next_at = session.scalar(
                select(func.min(DrillStep.due_at)).where(
                    DrillStep.done_at.is_(None), DrillStep.id.not_in(list(failed))
                )
            )
        retries = (retry_at for _, retry_at in failed.values())
        return min((t for t in (next_at, *retries) if t is not None), default=None)

    def _run(self, step_id: int, drill_id: int, now: datetime, *, wait: bool) -> None:
        """Claim one step, inject it through intake (once, by its delivery id), mark it done.

        Three short transactions, none open while intake works: the claim, the send (intake's
        own), the mark. Of several engines one claims the step and the others skip it, or with
        `wait` wait a while for it to be done (starting a drill, so the answer says what its
        first steps did). A failed send gives the claim back for the next try.
        """
        # This claim's own name: a thread of this process that claims the step again after
        # the lease lapsed must not have its claim given back by this one.
        claimant = f"{self.owner} #{secrets.token_hex(3)}"
        due_at = self._take(step_id, drill_id, now, claimant, wait=wait)
        if due_at is None:
            return
        try:
            done = self._inject(step_id, drill_id)
        except BaseException:
            self._give_back(step_id, due_at, claimant)
            raise
        if done is None:
            self._give_back(step_id, due_at, claimant)
            return
        with self.db.transaction() as session:
            mark(session, step_id, drill_id, now, done, due_at)

    def _take(
        self, step_id: int, drill_id: int, now: datetime, claimant: str, *, wait: bool
    ) -> datetime | None:
        """Claim a step; return its due time, or None if it is done or another engine has it.

        With `wait`, a step another engine has is waited for (a while) until it is done.
        """
        deadline = time.monotonic() + OWN_WAIT
        while True:
            with self.db.transaction() as session:
                due_at = claim(session, step_id, now, claimant)
                if due_at is not None or not wait or is_done(session, step_id):
                    return due_at
            if time.monotonic() >= deadline:
                log.warning("drill %s: step %s is still claimed elsewhere", drill_id, step_id)
                return None
            time.sleep(OWN_POLL)

    def _give_back(self, step_id: int, due_at: datetime, claimant: str) -> None:
        """Release a claim whose step was not sent; if that fails, its lease ends it."""
        try:
            with self.db.transaction() as session:
                release(session, step_id, due_at, claimant)
        except Exception:
            log.exception(
                "drill step %s: cannot release its claim (it lapses in %s)", step_id, LEASE
            )

    def _inject(self, step_id: int, drill_id: int) -> Done | None:
        """Send one undone step through intake; None if it is done or gone."""
        with self.db.session() as session:
            step, drill = session.get(DrillStep, step_id), session.get(Drill, drill_id)
            if step is None or drill is None or step.done_at is not None:
                return None
            session.expunge_all()
            over = _incident_over(session, drill)
        if step.kind == "expect":
            return Done("checked in the review")
        if over:
            return Done(f"not injected: INC-{drill.incident_number} is already {over}")
        result = self.inject(
            source=service.SOURCE,
            integration=f"drill-{drill.id}",
            alerts=[service.injected(drill, step)],
            delivery_ids=(f"drill-step-{step.id}",),
        )
        number = result.linked[0] if result.linked else None
        return Done(_outcome(result, number), number, injected=True)

    def review_of(self, ref: str) -> Review | None:
        """Return the review of the drill `ref` belongs to; None for a real incident."""
        with self.db.session() as session:
            incident = incidents.get(session, ref)
            drill = session.get(Drill, incident.drill_id) if incident.drill_id else None
            return review(session, drill=drill, config=self.config()) if drill else None

    def postmortem_section(self, ref: str, actor: str | None) -> tuple[str, str]:
        """Return the postmortem export's Drill review section; empty for a real incident."""
        found = self.review_of(ref)
        return (render_markdown(found), render_html(found)) if found else ("", "")


def _incident_over(session: Session, drill: Drill) -> str | None:
    """Return the drill incident's status once it is resolved or closed (None: still open)."""
    if drill.incident_number is None:
        return None
    status = session.scalar(select(Incident.status).where(Incident.number == drill.incident_number))
    return status if status is not None and status not in OPEN_STATUSES else None


def _outcome(result: IngestResult, number: int | None) -> str:
    """Say in a few words what intake did with an injected step."""
    if result.duplicate:
        return "injected already (after a restart, or by another engine): not sent again"
    if result.opened:
        return f"opened INC-{result.opened[0]}"
    if result.silenced:
        return "silenced"
    if result.dropped:
        return "dropped by routing"
    if result.resolved:
        return f"resolved in INC-{number}" if number else "resolved"
    return f"joined INC-{number}" if number else "accepted"


def _redacted(out: DrillOut) -> DrillOut:
    """Return the answer without the incident its caller may not see."""
    steps = [
        step.model_copy(update={"outcome": _INCIDENT.sub("a restricted incident", step.outcome)})
        if step.outcome
        else step
        for step in out.steps
    ]
    hidden: dict[str, object] = {"incident": None, "incident_status": None, "participants": []}
    return out.model_copy(update={**hidden, "steps": steps})


def _check_visible(session: Session, config: WarroomConfig, access: Access, drill: Drill) -> None:
    """Hide a drill whose incident the caller may not see (as if it did not exist)."""
    if drill.incident_number is None:
        return
    incident = session.scalars(
        select(Incident).where(Incident.number == drill.incident_number)
    ).first()
    if incident is not None:
        try:
            check_visible(session, config, access, incident)
        except NotFound:
            raise NotFound(f"no drill {drill.id}") from None
