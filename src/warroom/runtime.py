"""The running warroom: what one process holds, built once from Settings and passed down."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from warroom import logs
from warroom.audit import service as audit
from warroom.auth.oidc import OidcSignIns
from warroom.auth.signin import SignIns
from warroom.auth.totp_flows import TotpFlows
from warroom.config import WarroomConfig, load_config
from warroom.core.clock import Clock
from warroom.core.errors import Conflict
from warroom.detection.flows import IntakeFlows
from warroom.detection.jobs import HeartbeatChecks
from warroom.drills.flows import DrillFlows
from warroom.engine.runner import Engine, instance_name
from warroom.escalation import calls, personal
from warroom.escalation.jobs import EscalationSteps, PageRuns, Reminders
from warroom.evidence.flows import EvidenceFlows, postmortem_section
from warroom.evidence.store import Store
from warroom.incidents.flows import IncidentFlows, TemplateChoice
from warroom.incidents.lifecycle import Rules
from warroom.mitigation.gate import VerificationGate
from warroom.mitigation.jobs import VerificationSweep
from warroom.notify.adapters import build_adapters, channels_of
from warroom.notify.messages import IssueCreate, VoicePage
from warroom.notify.ports import Adapters
from warroom.notify.sender import Sender, SentHook
from warroom.oncall.pagerduty import PagerDutyOnCall
from warroom.postmortem import tracking
from warroom.postmortem.flows import PostmortemFlows
from warroom.postmortem.gate import PostmortemGate
from warroom.postmortem.service import lessons
from warroom.retention.jobs import Pruning
from warroom.runbooks.directory import RunbookDirectory
from warroom.search.related_flows import RelatedFlows
from warroom.settings import Settings
from warroom.storage.bus import Bus
from warroom.storage.db import Database
from warroom.triage.flows import TriageFlows
from warroom.triage.service import Assessment, Command

log = logging.getLogger("warroom")


@dataclass
class Runtime:
    """Everything a running warroom holds, built once from Settings and passed down."""

    settings: Settings
    db: Database
    clock: Clock
    runbooks: RunbookDirectory
    config_value: WarroomConfig
    flows: IncidentFlows = field(init=False)
    triage: TriageFlows = field(init=False)
    postmortems: PostmortemFlows = field(init=False)
    evidence: EvidenceFlows = field(init=False)  # files by content hash, chain of custody
    intake: IntakeFlows = field(init=False)
    sign_ins: SignIns = field(init=False)  # browser sessions (auth/signin.py)
    totp: TotpFlows = field(init=False)  # a user's own second factor (auth/totp_flows.py)
    oidc: OidcSignIns = field(init=False)  # single sign-on (auth/oidc.py)
    drills: DrillFlows = field(init=False)  # practice incidents (drills/)
    related: RelatedFlows = field(init=False)  # past incidents like this one (search/)
    _config_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _pagerduty: tuple[object, PagerDutyOnCall] | None = field(default=None, init=False)
    adapters_override: Adapters | None = None  # tests and --dev: recording fakes
    engine: Engine = field(init=False)
    live: Bus = field(init=False)  # committed timeline events for the SSE streams
    verification: VerificationSweep = field(init=False)
    _adapters: tuple[object, Adapters] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        from warroom.escalation.planner import Planner
        from warroom.incidents import live, metrics

        logs.remember_secrets(self.config_value)  # no log line may show one

        # The phases' rules every incident change passes, in the order they are checked
        # (ADR 005): triage's assessment, mitigation's Verification gate, postmortem's close.
        rules = Rules(
            lifecycle=(Assessment(), VerificationGate(), PostmortemGate()),
            command=Command(oncall=self.on_call_at),
        )
        self.flows = IncidentFlows(
            db=self.db,
            config=self.config,
            clock=self.clock,
            runbooks=self.runbooks,
            rules=rules,
            listeners=[metrics.record],
        )
        self.triage = TriageFlows(incidents=self.flows)
        # Also installs the listener that starts a postmortem when its incident resolves.
        self.postmortems = PostmortemFlows(incidents=self.flows, archive=self.runbooks.archive)
        self.evidence = EvidenceFlows(
            incidents=self.flows, store=Store.under(self.settings.data_dir)
        )
        # The postmortem export lists the evidence; the phases do not import each other.
        self.postmortems.sections.append(partial(postmortem_section, self.evidence))
        self.intake = IntakeFlows(
            db=self.db,
            config=self.config,
            clock=self.clock,
            runbooks=self.runbooks,
            incidents=self.flows,
        )
        # Drills inject through intake; their review is a section of the postmortem export.
        self.drills = DrillFlows(
            db=self.db,
            config=self.config,
            clock=self.clock,
            inject=self.intake.ingest,
            wake=lambda: self.engine.wake(),
        )
        self.postmortems.sections.append(self.drills.postmortem_section)
        # Related incidents show their postmortem's lessons; search may not import postmortem.
        self.related = RelatedFlows(
            db=self.db,
            config=self.config,
            lessons=lambda session, ids: dict(lessons(session, incident_ids=ids)),
        )
        self.sign_ins = SignIns(db=self.db, clock=self.clock, config=lambda: self.config().auth)
        self.totp = TotpFlows(
            db=self.db,
            clock=self.clock,
            config=lambda: self.config().auth,
            throttle=self.sign_ins.throttle,
        )
        self.oidc = OidcSignIns(
            db=self.db,
            clock=self.clock,
            auth=lambda: self.config().auth,
            people=lambda: self.config().people,
            sign_ins=self.sign_ins,
        )
        self.verification = VerificationSweep(
            db=self.db,
            config=self.config,
            now=self.clock.now,
            rules=rules,
            on_changed=self.flows.refresh,
        )
        owner = instance_name()
        # The engine's modules, in the order each round runs them: pages first (a backlog of
        # due steps holds back the rest of the round), then silent heartbeats, reminders,
        # verification, drills, and last the pruning of rows past their retention.
        self.engine = Engine(
            modules=[
                EscalationSteps(
                    db=self.db,
                    config=self.config,
                    oncall=self.on_call_at,
                    channels=self.channels,
                    on_call_everywhere=self.on_call_everywhere,
                ),
                PageRuns(db=self.db, config=self.config, channels=self.channels),
                HeartbeatChecks(
                    db=self.db,
                    config=self.config,
                    rules=rules,
                    choose_template=self._template_chooser,
                    on_changed=self.flows.refresh,
                ),
                Reminders(db=self.db, config=self.config, channels=self.channels),
                self.verification,
                self.drills,
                Pruning(db=self.db, config=self.config),
            ],
            sender=Sender(
                db=self.db,
                config=self.config,
                adapters=self.adapters,
                now=self.clock.now,
                owner=owner,
                after_sent=[
                    SentHook((IssueCreate,), tracking.issue_sent),
                    SentHook((VoicePage,), calls.placed_after_paging_ended),
                ],
                after_dead=[personal.page_failed],
            ),
            now=self.clock.now,
            owner=owner,
        )
        # Every transaction that writes timeline events plans its notifications before it
        # commits (the outbox), and wakes the engine after.
        planner = Planner(
            config=self.config,
            channels=self.channels,
            now=self.clock.now,
            wake=self.engine.wake,
            related=self.related.announcement,
        )
        self.db.before_commit.append(planner)
        self.db.after_commit.append(planner.after_commit)
        # Every commit that wrote timeline events publishes them to this process's streams
        # (SQLite) or NOTIFYs every instance (PostgreSQL); started by the first stream.
        self.live = Bus(
            self.db.url,
            head=lambda: live.head(self.db),
            since=lambda after, limit: live.since(self.db, after, limit),
        )
        live.install(self.db, self.live)
        # Last of the before-commit listeners: it locks the audit chain's head (audit/service.py).
        audit.install(self.db)

    def _template_chooser(
        self, config: WarroomConfig
    ) -> Callable[[str | None, str | None], TemplateChoice]:
        """Return how a new incident of (type, service) picks its runbook template."""

        def choose(incident_type: str | None, service: str | None) -> TemplateChoice:
            return self.runbooks.choose_template(
                config, runbook=None, incident_type=incident_type, service=service
            )

        return choose

    def adapters(self) -> Adapters:
        """Return the notification adapters for the configuration in force."""
        if self.adapters_override is not None:
            return self.adapters_override
        config = self.config()
        replaced: Adapters | None = None
        with self._config_lock:  # the sender's threads ask at once
            if self._adapters is None or self._adapters[0] is not config.integrations:
                replaced = self._adapters[1] if self._adapters is not None else None
                self._adapters = (config.integrations, build_adapters(config))
            current = self._adapters[1]
        if replaced is not None:
            # Closes now, or when the last send still using the old clients finishes.
            replaced.retire()
        return current

    @contextmanager
    def adapters_in_use(self) -> Iterator[Adapters]:
        """Yield the adapters in force, kept open until the block ends (a reload may come).

        For a send outside the outbox (a verification code, a Slack form, a test page): like
        the sender's, it is counted, so replaced clients close after it, not under it.
        """
        for _ in range(5):  # a reload may retire them between asking and counting
            adapters = self.adapters()
            if adapters.acquire():
                break
        else:
            raise Conflict("warroom is reloading or shutting down: try again in a moment")
        try:
            yield adapters
        finally:
            adapters.release()

    def channels(self) -> set[str]:
        """Return the outbox channels with a configured adapter."""
        return channels_of(self.adapters())

    def close(self) -> None:
        """Finish queued intake work and close database and PagerDuty connections."""
        self.intake.close()
        self.engine.stop()
        self.live.close()
        if self._adapters is not None:
            self._adapters[1].retire()  # after the engine stopped: nothing should be in flight
        if self._pagerduty is not None:
            self._pagerduty[1].close()
        self.db.dispose()

    def on_call_at(self, schedule_id: str, at: datetime) -> dict[str, list[str]]:
        """Return layer -> people on call in a schedule (warroom's own or PagerDuty's)."""
        from warroom.oncall import service as oncall

        config = self.config()
        if schedule_id in config.pagerduty_schedules():
            client = self.pagerduty_oncall()
            answer = client.schedules_on_call(at, [schedule_id]) if client else {}
            return answer.get(schedule_id, {})
        with self.db.session() as session:
            found = oncall.now_on_call(session, config=config, at=at, schedule_ids=[schedule_id])
        return found[0][1] if found else {}

    def on_call_everywhere(self, at: datetime) -> dict[str, dict[str, list[str]]]:
        """Return schedule -> layer -> people for every schedule, local and PagerDuty's."""
        from warroom.oncall import service as oncall

        config = self.config()
        with self.db.session() as session:
            found = {
                schedule.id: layers
                for schedule, layers in oncall.now_on_call(session, config=config, at=at)
            }
        schedules = config.pagerduty_schedules()
        client = self.pagerduty_oncall() if schedules else None
        if client is not None:
            try:
                found.update(client.schedules_on_call(at, schedules))
            except Exception:  # PagerDuty down: the tick asks per schedule and falls through
                log.exception("cannot ask PagerDuty who is on call")
        return found

    def pagerduty_oncall(self) -> PagerDutyOnCall | None:
        """Return the PagerDuty on-call client for the configuration in force, if any."""
        source = self.config().integrations.pagerduty_oncall
        if source is None:
            return None
        if self._pagerduty is None or self._pagerduty[0] is not source:
            if self._pagerduty is not None:
                self._pagerduty[1].close()
            self._pagerduty = (source, PagerDutyOnCall(source))
        return self._pagerduty[1]

    def config(self) -> WarroomConfig:
        """Return the configuration in force."""
        return self.config_value

    def reload_config(self, *, by: str = "signal:SIGHUP") -> WarroomConfig:
        """Re-read warroom.yaml; on error keep the last good configuration and raise.

        Audited either way, with who asked and the SHA-256 of the file read (never its
        content, nor the error text, which may quote a line of it).
        """
        path = self.settings.config_path()
        fields = {
            "actor": by,
            "at": self.clock.now(),
            "target": str(path) if path else "built-in defaults",
        }
        digest = file_sha256(path)
        try:
            fresh = load_config(path)
        except Exception:
            audit.record_now(
                self.db, "config.reload", outcome="failed", details={"sha256": digest}, **fields
            )
            raise
        logs.remember_secrets(fresh)  # a rotated secret is redacted as well as the old one
        with self._config_lock:
            self.config_value = fresh
            built = self._adapters is not None
        if built and self.adapters_override is None:
            self.adapters()  # swap the clients now: idle old ones close at once
        audit.record_now(self.db, "config.reload", details={"sha256": digest}, **fields)
        log.info("configuration reloaded")
        return fresh


def file_sha256(path: Path | None) -> str | None:
    """Return the hex SHA-256 of the file at `path` (None when there is none to read)."""
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
