"""Alert intake: store each alert once, group alerts into one open incident, honour silences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, select, text, update
from sqlalchemy.orm import Session

from warroom.detection import heartbeats, storms
from warroom.detection.bulk_join import join_in_bulk
from warroom.detection.grouping import group_key, open_group
from warroom.detection.linking import Linker, opening_event
from warroom.detection.models import Alert
from warroom.detection.resolution import resolve_alert
from warroom.detection.rows import (
    ALERT_IS_OPEN,
    alert_row,
    built_once,
    incident_summary,
)
from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
from warroom.detection.silences import ActiveSilences
from warroom.incidents import service as incidents
from warroom.incidents import timeline
from warroom.incidents.actor import Actor
from warroom.incidents.declaring import Declaration, declare_many
from warroom.incidents.flows import TemplateChoice
from warroom.incidents.held import Held
from warroom.incidents.lifecycle import Rules
from warroom.incidents.models import Incident
from warroom.incidents.states import OPEN_STATUSES
from warroom.storage import savepoints

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

TemplateChooser = Callable[[str | None, str | None], TemplateChoice]
Decide = Callable[[AlertIn], RouteDecision]


# Built once (see rows.built_once): the per-alert path runs these for every new group.
_OPEN_ROW = (
    select(Alert)
    .where(
        Alert.source == bindparam("source"),
        Alert.integration == bindparam("integration"),
        Alert.fingerprint == bindparam("fp"),
        ALERT_IS_OPEN,
    )
    .with_for_update()
)
_new_row = built_once(
    lambda insert: (
        insert(Alert)
        .on_conflict_do_nothing(
            index_elements=["fingerprint", "source", "integration"], index_where=text("is_open")
        )
        .returning(Alert)
    )  # the new row as an object, without a second query
)


@dataclass
class Intake:
    """One transaction's worth of intake work for one integration."""

    session: Session
    config: WarroomConfig
    decide: Decide
    choose_template: TemplateChooser
    now: datetime
    source: str
    integration: str
    rules: Rules  # the phases' rules on incidents (first IC, gates), from the incident flows
    silences: ActiveSilences = field(init=False)
    linker: Linker = field(init=False)
    # The alert storms this run has met (detection/storms.py), so their members ask once.
    storms_known: storms.Known = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.silences = ActiveSilences(self.session, self.now)
        self.linker = Linker(
            session=self.session,
            config=self.config,
            now=self.now,
            actor=self.actor,
            rules=self.rules,
        )

    @property
    def actor(self) -> Actor:
        """The timeline actor for work done by this integration."""
        return Actor(name=f"{self.source}/{self.integration}", source=self.source)

    def ingest(self, alerts: list[AlertIn]) -> IngestResult:
        """Process one delivery's alerts in order (caller commits)."""
        return self.ingest_many([alerts])[0]

    def ingest_many(self, deliveries: list[list[AlertIn]]) -> list[IngestResult]:
        """Process several deliveries of this integration as one; return a result for each."""
        results = [IngestResult(source=self.source) for _ in deliveries]
        alerts = [alert for delivery in deliveries for alert in delivery]
        owners = [i for i, delivery in enumerate(deliveries) for _ in delivery]
        decided = [(alert, self.decide(alert)) for alert in alerts]
        # Pings first: they lock heartbeat rows, and the engine's heartbeat check takes those
        # before a storm's lock. Opening incidents first (a storm's lock), then pinging, could
        # deadlock with it on PostgreSQL. (Across a drain's groups, IntakeFlows locks the rows
        # of every group's pings before the first group runs.)
        for index, (alert, decision) in enumerate(decided):
            if decision.heartbeat is not None:
                self._ping(alert, decision.heartbeat, results[owners[index]])
        firing = [a for a, d in decided if d.stored and a.status == "firing" and a.event is None]
        repeats = self._bump_repeats(firing)
        owner_of: dict[str, int] = {}
        for index, (alert, _) in enumerate(decided):
            owner_of.setdefault(alert.fingerprint, owners[index])
        # An alert also resolved or acknowledged in this run keeps the order it came in: the
        # per-alert path, in turn (a resolve before its firing must not close what bulk opened).
        ordered = {a.fingerprint for a in alerts if a.status != "firing" or a.event is not None}
        joined = join_in_bulk(
            self.linker,
            integration=self.integration,
            silences=self.silences,
            items=[
                (a, d)
                for a, d in decided
                if d.stored
                and a.status == "firing"
                and a.event is None
                and a.kind == "alert"
                and a.fingerprint not in repeats
                and a.fingerprint not in ordered
            ],
            results=results,
            owner_of=owner_of,
            one=self._one,
            declare=self.declaration,
            bundle=self.count_storms,
        )
        done: set[str] = set()
        for index, (alert, decision) in enumerate(decided):
            result = results[owners[index]]  # the delivery this alert came from
            if decision.heartbeat is not None:
                continue  # pinged above
            if decision.drop:
                result.dropped += 1
                continue
            result.accepted += 1
            again = alert.fingerprint in done  # the same alert twice in what is ingested now
            done.add(alert.fingerprint)
            if repeats.get(alert.fingerprint, False):
                result.repeated += 1  # already counted and linked: nothing else to do
                continue
            if alert.fingerprint in joined and not again:
                if joined[alert.fingerprint] == "bulk":
                    result.new += 1  # inserted by join_in_bulk straight into its incident
                continue
            self._one(alert, decision, result, bumped=alert.fingerprint in repeats and not again)
        return results

    def _bump_repeats(self, alerts: list[AlertIn]) -> dict[str, bool]:
        """Count re-sent firing alerts in one statement (the common case of an alert storm).

        Returns fingerprint -> whether that open alert is already linked (or silenced),
        so only new or unlinked alerts take the slower path.
        """
        counts: dict[str, int] = {}
        for alert in alerts:
            counts[alert.fingerprint] = counts.get(alert.fingerprint, 0) + 1
        fingerprints = list(counts)
        if not fingerprints:
            return {}
        stmt = (
            update(Alert)
            .where(
                Alert.source == self.source,
                Alert.integration == self.integration,
                Alert.fingerprint.in_(fingerprints),
                ALERT_IS_OPEN,
            )
            .values(status="firing", last_seen_at=self.now, seen_count=Alert.seen_count + 1)
            .returning(Alert.fingerprint, Alert.incident_id)
            .execution_options(synchronize_session=False)
        )
        linked = {fp: incident_id is not None for fp, incident_id in self.session.execute(stmt)}
        extra = [
            {"fp": fingerprint, "extra": count - 1}
            for fingerprint, count in counts.items()
            if count > 1 and fingerprint in linked  # sent several times in this run
        ]
        if extra:  # one executemany statement, however many
            table = cast(Table, Alert.__table__)
            self.session.execute(
                update(table)
                .where(
                    table.c.source == self.source,
                    table.c.integration == self.integration,
                    table.c.fingerprint == bindparam("fp"),
                    ALERT_IS_OPEN,
                )
                .values(seen_count=table.c.seen_count + bindparam("extra")),
                extra,
            )
        return linked

    def _one(
        self,
        alert: AlertIn,
        decision: RouteDecision,
        result: IngestResult,
        *,
        bumped: bool = False,
    ) -> int | None:
        """Take one alert the per-alert way, counting it in its delivery's `result`.

        Returns the id of the incident the alert is linked to, if any.
        """
        row = self._open_row(alert)
        if alert.status == "resolved":
            resolve_alert(self.linker, alert, row, decision, result)
            return None
        if row is None:
            row = self._insert(alert, decision)
            result.new += 1
        elif bumped:
            result.repeated += 1  # counted by _bump_repeats; it still needs linking
        else:
            self._refresh(row, alert)
            result.repeated += 1
        if row.incident_id is None:
            self._attach(row, alert, decision, result)
        # After attaching: an acknowledgement may be the first event seen of an incident.
        if alert.event == "acknowledged" and row.incident_id is not None:
            incident = self.session.get(Incident, row.incident_id)
            if incident is not None and incident.status in OPEN_STATUSES:
                incidents.acknowledge(
                    self.session, incident=incident, now=self.now, actor=self.actor
                )
                result.touch(incident.number)
        return row.incident_id

    def _ping(self, alert: AlertIn, heartbeat_id: str, result: IngestResult) -> None:
        """Take an alert a route turned into a ping: firing pings, resolved says nothing."""
        result.accepted += 1
        if not heartbeats.is_ping(alert):
            result.ignored += 1
            return
        pinged = heartbeats.ping(
            self.session,
            config=self.config,
            heartbeat_id=heartbeat_id,
            now=self.now,
            rules=self.rules,
        )
        result.pinged += 1
        if pinged.incident is not None:
            result.touch(pinged.incident)
            if pinged.resolved:
                result.ended.append(pinged.incident)

    def _open_row(self, alert: AlertIn) -> Alert | None:
        found = {"source": alert.source, "integration": self.integration, "fp": alert.fingerprint}
        return self.session.scalars(_OPEN_ROW, found).first()

    def _insert(self, alert: AlertIn, decision: RouteDecision) -> Alert:
        """Insert a new open episode; if a concurrent delivery won, use its row instead."""
        key = group_key(alert, decision, self.integration)
        values = alert_row(
            alert, decision, integration=self.integration, key=key, now=self.now, incident_id=None
        )
        row = self.session.scalars(_new_row(self.session), values).first()
        if row is not None:
            savepoints.returned(self.session, [row])  # a failed delivery takes it with it
        if row is None:  # another transaction opened the same episode first
            row = self._open_row(alert)
            assert row is not None
            self._refresh(row, alert)
        return row

    def _refresh(self, row: Alert, alert: AlertIn) -> None:
        row.status = "firing"
        row.last_seen_at = self.now
        row.seen_count += 1
        row.labels = alert.labels
        row.annotations = alert.annotations

    def _attach(
        self, row: Alert, alert: AlertIn, decision: RouteDecision, result: IngestResult
    ) -> None:
        """Link the alert to its group's open incident, opening one if needed."""
        silence = self.silences.matching(alert.labels) if alert.kind == "alert" else None
        if silence is not None:
            row.silence_id = silence.id
            result.silenced += 1
            return
        row.silence_id = None
        key = row.group_key or group_key(alert, decision, self.integration)
        group = open_group(self.session, key, self.now)
        incident = self.session.get(Incident, group.incident_id) if group.incident_id else None
        changed = True
        if incident is None:
            incident = self._declare(alert, decision, row)
            group.incident_id = incident.id
            result.opened.append(incident.number)
            if alert.kind == "alert":
                self.count_storms([(incident, result)])
        else:
            noted = self.linker.note_joined(incident, row.id, row.title, alert)
            changed = self.linker.move_start_earlier(incident, alert.starts_at) or noted
            changed = self.linker.fired_again(incident, row.title, result) or changed
        row.incident_id = incident.id
        result.link(incident.number)
        if changed:  # past the first alerts of a storm the incident's file would not change
            result.touch(incident.number)

    def count_storms(self, opened: list[tuple[Incident, IngestResult]]) -> None:
        """Bundle new incidents (each with the result of the delivery that opened it) under
        their scopes' alert storms, if there are any now."""
        started = storms.bundle_many(
            self.session,
            incidents=[incident for incident, _ in opened],
            config=self.config,
            now=self.now,
            open_parent=storms.opener(
                self.session,
                config=self.config,
                now=self.now,
                rules=self.rules,
                choose_template=self.choose_template,
                opened=[],  # said below, in the result of the delivery that started it
            ),
            rules=self.rules,
            known=self.storms_known,
        )
        for index, parent in started:
            opened[index][1].opened.append(parent.number)
            opened[index][1].touch(parent.number)

    def declaration(
        self, alert: AlertIn, decision: RouteDecision, title: str, started: datetime | None
    ) -> Declaration:
        """Return what the incident this alert opens is declared with (`started`: its start)."""
        service = decision.service or alert.labels.get("service")
        if service is not None and self.config.services and self.config.service(service) is None:
            service = None  # an unknown service label must not stop the incident from opening
        type_id = decision.incident_type
        if type_id is not None and self.config.incident_type(type_id) is None:
            type_id = None
        chosen = self.choose_template(type_id, service)
        actor = Actor(name=alert.reporter, source=self.source) if alert.reporter else self.actor
        commander, reason = self.rules.command.first_commander(
            self.config, service=service, reporter=alert.reporter, at=self.now
        )
        participants = self.config.drills.participants
        if alert.drill is not None and isinstance(participants, list):
            # A drill of opted-in people: the first is its IC, not whoever is on call.
            commander, reason = participants[0], "the drill's first participant"
        # A viewer's report keeps the severity it asked for, and waits for a responder.
        held = Held(decision.severity if alert.severity else None) if alert.held else None
        return Declaration(
            actor=actor,
            commander=commander,
            commander_reason=reason,
            title=title,
            severity=decision.severity,
            summary=incident_summary(alert),
            incident_type=type_id,
            service=service,
            # A sender's clock a little ahead of ours must not lose the start: cap it at now.
            started_at=min(started, self.now) if started else None,
            runbook_template=chosen.name,
            checklist=chosen.checklist,
            owner=decision.team or chosen.owner,
            module=service or chosen.module,
            held=held,
            drill_id=alert.drill,
        )

    def _declare(self, alert: AlertIn, decision: RouteDecision, row: Alert) -> Incident:
        declaration = self.declaration(alert, decision, row.title, alert.starts_at)
        (incident,) = declare_many(
            self.session, config=self.config, now=self.now, declarations=[declaration]
        )
        if alert.reporter:
            self.rules.command.reporter(
                self.session, incident=incident, person=alert.reporter, now=self.now
            )
        kind, text, data = opening_event(alert, row.id, row.title)
        timeline.record(
            self.session,
            incident=incident,
            kind=kind,
            at=self.now,
            actor=declaration.actor.name,
            source=self.source,
            text=text,
            data=data,
        )
        self.linker.opened_with_alert(incident)
        return incident
