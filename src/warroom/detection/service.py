"""Alert intake: store each alert once, group alerts into one open incident, honour silences."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from warroom.detection.matchers import matches_all, parse_matcher
from warroom.detection.models import Alert, AlertGroup, Silence
from warroom.detection.resolution import resolve_alert
from warroom.detection.rows import (
    ALERT_IS_OPEN,
    GROUP_IS_OPEN,
    SOURCE_NAMES,
    alert_title,
    capped_raw,
    incident_summary,
    insert_for,
)
from warroom.detection.schemas import AlertIn, IngestResult, RouteDecision
from warroom.detection.storm import join_storm
from warroom.incidents import roles, timeline
from warroom.incidents import service as incidents
from warroom.incidents.flows import TemplateChoice
from warroom.incidents.models import Incident, TimelineEvent
from warroom.incidents.service import Actor
from warroom.incidents.states import OPEN_STATUSES
from warroom.mitigation import verification
from warroom.triage.commander import OnCallLookup, choose_commander

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

TemplateChooser = Callable[[str | None, str | None], TemplateChoice]
Decide = Callable[[AlertIn], RouteDecision]
ALERT_EVENTS_MAX = 25  # "alert joined" timeline events per incident before they are summarised


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
    oncall: OnCallLookup | None = None  # for choosing the first Incident Commander
    # One result per delivery: several concurrent deliveries may be ingested in one run.
    results: list[IngestResult] = field(default_factory=list)
    current: int = 0  # the delivery the alert being processed came from
    _owners: list[int] = field(default_factory=list)

    @property
    def result(self) -> IngestResult:
        """The result of the delivery whose alert is being processed."""
        return self.results[self.current]

    _silences: list[tuple[Silence, list[object]]] | None = None
    _alert_events: dict[int, int] = field(default_factory=dict)

    @property
    def actor(self) -> Actor:
        """The timeline actor for work done by this integration."""
        return Actor(name=f"{self.source}/{self.integration}", source=self.source)

    def ingest(self, alerts: list[AlertIn]) -> IngestResult:
        """Process one delivery's alerts in order (caller commits)."""
        return self.ingest_many([alerts])[0]

    def ingest_many(self, deliveries: list[list[AlertIn]]) -> list[IngestResult]:
        """Process several deliveries of this integration as one; return a result for each."""
        self.results = [IngestResult(source=self.source) for _ in deliveries]
        alerts = [alert for delivery in deliveries for alert in delivery]
        self._owners = [i for i, delivery in enumerate(deliveries) for _ in delivery]
        decided = [(alert, self.decide(alert)) for alert in alerts]
        firing = [a for a, d in decided if not d.drop and a.status == "firing" and a.event is None]
        repeats = self._bump_repeats(firing)
        owner_of: dict[str, int] = {}
        for index, (alert, _) in enumerate(decided):
            owner_of.setdefault(alert.fingerprint, self._owners[index])
        joined = join_storm(
            self,
            [
                (a, d)
                for a, d in decided
                if not d.drop
                and a.status == "firing"
                and a.event is None
                and a.kind == "alert"
                and a.fingerprint not in repeats
            ],
            owner_of,
        )
        done: set[str] = set()
        for index, (alert, decision) in enumerate(decided):
            self.current = self._owners[index]
            if decision.drop:
                self.result.dropped += 1
                continue
            self.result.accepted += 1
            again = alert.fingerprint in done  # the same alert twice in what is ingested now
            done.add(alert.fingerprint)
            if repeats.get(alert.fingerprint, False):
                self.result.repeated += 1  # already counted and linked: nothing else to do
                continue
            if alert.fingerprint in joined and not again:
                if joined[alert.fingerprint] == "bulk":
                    self.result.new += 1  # inserted by join_storm straight into its incident
                continue
            self._one(alert, decision, bumped=alert.fingerprint in repeats and not again)
        return self.results

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

    def _one(self, alert: AlertIn, decision: RouteDecision, *, bumped: bool = False) -> None:
        row = self._open_row(alert)
        if alert.status == "resolved":
            resolve_alert(self, alert, row, decision)
            return
        if row is None:
            row = self._insert(alert, decision)
            self.result.new += 1
        elif bumped:
            self.result.repeated += 1  # counted by _bump_repeats; it still needs linking
        else:
            self._refresh(row, alert)
            self.result.repeated += 1
        if row.incident_id is None:
            self._attach(row, alert, decision)
        # After attaching: an acknowledgement may be the first event seen of an incident.
        if alert.event == "acknowledged" and row.incident_id is not None:
            incident = self.session.get(Incident, row.incident_id)
            if incident is not None and incident.status in OPEN_STATUSES:
                incidents.acknowledge(
                    self.session, incident=incident, now=self.now, actor=self.actor
                )
                self.result.touch(incident.number)

    def _open_row(self, alert: AlertIn) -> Alert | None:
        stmt = (
            select(Alert)
            .where(
                Alert.source == alert.source,
                Alert.integration == self.integration,
                Alert.fingerprint == alert.fingerprint,
                ALERT_IS_OPEN,
            )
            .with_for_update()
        )
        return self.session.scalars(stmt).first()

    def _insert(self, alert: AlertIn, decision: RouteDecision) -> Alert:
        """Insert a new open episode; if a concurrent delivery won, use its row instead."""
        values = {
            "source": alert.source,
            "integration": self.integration,
            "kind": alert.kind,
            "fingerprint": alert.fingerprint,
            "status": "firing",
            "is_open": True,
            "title": alert_title(alert, decision),
            "severity": decision.severity,
            "labels": alert.labels,
            "annotations": alert.annotations,
            "starts_at": alert.starts_at,
            "ends_at": None,
            "generator_url": alert.generator_url,
            "group_key": self._group_key(alert, decision),
            "received_at": self.now,
            "last_seen_at": self.now,
            "seen_count": 1,
            "raw": capped_raw(alert),
        }
        insert = insert_for(self.session)
        stmt = (
            insert(Alert)
            .values(**values)
            .on_conflict_do_nothing(
                index_elements=["fingerprint", "source", "integration"],
                index_where=text("is_open"),
            )
            .returning(Alert.id)
        )
        new_id = self.session.execute(stmt).scalar()
        if new_id is None:  # another transaction opened the same episode first
            row = self._open_row(alert)
            assert row is not None
            self._refresh(row, alert)
            return row
        row = self.session.get(Alert, new_id)
        assert row is not None
        return row

    def _refresh(self, row: Alert, alert: AlertIn) -> None:
        row.status = "firing"
        row.last_seen_at = self.now
        row.seen_count += 1
        row.labels = alert.labels
        row.annotations = alert.annotations

    def _group_key(self, alert: AlertIn, decision: RouteDecision) -> str:
        """Alerts with the same key join the same open incident."""
        prefix = f"{alert.source}:{self.integration}"
        if alert.kind == "report":
            return f"{prefix}:report:{alert.fingerprint}"
        if decision.group_by:
            values = {name: alert.labels.get(name, "") for name in decision.group_by}
            return f"{prefix}:route{decision.route}:{json.dumps(values, sort_keys=True)}"
        if alert.group_key:
            return f"{prefix}:group:{alert.group_key}"
        return f"{prefix}:alert:{alert.fingerprint}"

    def _silence_for(self, labels: dict[str, str]) -> Silence | None:
        if self._silences is None:
            rows = self.session.scalars(
                select(Silence).where(Silence.starts_at <= self.now, Silence.ends_at > self.now)
            )
            self._silences = [(s, [parse_matcher(m) for m in s.matchers]) for s in rows]
        for silence, matchers in self._silences:
            if matches_all(matchers, labels):  # type: ignore[arg-type]
                return silence
        return None

    def _attach(self, row: Alert, alert: AlertIn, decision: RouteDecision) -> None:
        """Link the alert to its group's open incident, opening one if needed."""
        silence = self._silence_for(alert.labels) if alert.kind == "alert" else None
        if silence is not None:
            row.silence_id = silence.id
            self.result.silenced += 1
            return
        row.silence_id = None
        group = self._open_group(row.group_key or self._group_key(alert, decision))
        incident = self.session.get(Incident, group.incident_id) if group.incident_id else None
        changed = True
        if incident is None:
            incident = self._declare(alert, decision, row)
            group.incident_id = incident.id
            self.result.opened.append(incident.number)
        else:
            noted = self._note_joined(incident, row.id, row.title, alert)
            changed = self._move_start_earlier(incident, alert.starts_at) or noted
            changed = self.fired_again(incident, row.title) or changed
        row.incident_id = incident.id
        self.result.link(incident.number)
        if changed:  # past the first alerts of a storm the incident's file would not change
            self.result.touch(incident.number)

    def fired_again(self, incident: Incident, title: str) -> bool:
        """A firing alert joined a mitigated incident: the verification window decides."""
        if incident.status != "mitigated":
            return False
        inside = verification.inside_window(self.config, incident, self.now)
        moved = verification.on_refire(
            self.session,
            config=self.config,
            incident=incident,
            now=self.now,
            actor=self.actor,
            alert_title=title,
        )
        if moved:  # counted once the delivery commits
            self.result.refired.append((incident.number, incident.severity, inside))
        return moved

    def _note_joined(self, incident: Incident, alert_id: int, title: str, alert: AlertIn) -> bool:
        """Write "alert joined" events for the first few alerts only: a storm of a thousand
        alerts must not bury the timeline (they are all listed under the incident's alerts)."""
        count = self._alert_events.get(incident.id)
        if count is None:
            count = (
                self.session.scalar(
                    select(func.count())
                    .select_from(TimelineEvent)
                    .where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == "alert")
                )
                or 0
            )
        if count < ALERT_EVENTS_MAX:
            text = f"{SOURCE_NAMES.get(alert.source, alert.source)} alert joined: {title}"
        elif count == ALERT_EVENTS_MAX:
            text = "More alerts are joining; see this incident's alerts for all of them"
        else:
            self._alert_events[incident.id] = count + 1
            return False
        timeline.record(
            self.session,
            incident=incident,
            kind="alert",
            at=self.now,
            actor=self.actor.name,
            source=self.source,
            text=text,
            data={"alert_id": alert_id, "fingerprint": alert.fingerprint},
        )
        self._alert_events[incident.id] = count + 1
        return True

    def _open_group(self, key: str) -> AlertGroup:
        """Return the open group for `key`, closing it first if its incident is over."""
        stmt = select(AlertGroup).where(AlertGroup.group_key == key, GROUP_IS_OPEN)
        group = self.session.scalars(stmt.with_for_update()).first()
        if group is not None and group.incident_id is not None:
            incident = self.session.get(Incident, group.incident_id)
            if incident is not None and incident.status not in OPEN_STATUSES:
                group.is_open = False  # a new firing after resolution is a new incident
                self.session.flush()
                group = None
        if group is not None:
            return group
        insert = insert_for(self.session)
        new_id = self.session.execute(
            insert(AlertGroup)
            .values(group_key=key, is_open=True, incident_id=None, created_at=self.now)
            .on_conflict_do_nothing(index_elements=["group_key"], index_where=text("is_open"))
            .returning(AlertGroup.id)
        ).scalar()
        if new_id is None:  # a concurrent delivery created it; it has its incident by now
            group = self.session.scalars(stmt.with_for_update()).first()
            assert group is not None
            return group
        created = self.session.get(AlertGroup, new_id)
        assert created is not None
        return created

    def _declare(self, alert: AlertIn, decision: RouteDecision, row: Alert) -> Incident:
        service = decision.service or alert.labels.get("service")
        if service is not None and self.config.services and self.config.service(service) is None:
            service = None  # an unknown service label must not stop the incident from opening
        type_id = decision.incident_type
        if type_id is not None and self.config.incident_type(type_id) is None:
            type_id = None
        chosen = self.choose_template(type_id, service)
        # A sender's clock a little ahead of ours must not lose the start: cap it at now.
        started = min(alert.starts_at, self.now) if alert.starts_at else None
        actor = Actor(name=alert.reporter, source=self.source) if alert.reporter else self.actor
        commander, reason = choose_commander(
            self.config, service=service, reporter=alert.reporter, at=self.now, lookup=self.oncall
        )
        incident = incidents.declare(
            self.session,
            config=self.config,
            now=self.now,
            actor=actor,
            commander=commander,
            commander_reason=reason,
            title=row.title,
            severity=decision.severity,
            summary=incident_summary(alert),
            incident_type=type_id,
            service=service,
            started_at=started,
            runbook_template=chosen.name,
            checklist=chosen.checklist,
            owner=decision.team or chosen.owner,
            module=service or chosen.module,
        )
        if alert.reporter:
            roles.record_reporter(
                self.session, incident=incident, person=alert.reporter, now=self.now
            )
        timeline.record(
            self.session,
            incident=incident,
            kind="alert",
            at=self.now,
            actor=actor.name,
            source=self.source,
            text=f"{SOURCE_NAMES.get(alert.source, alert.source)} {alert.kind}: {row.title}",
            data={"alert_id": row.id, "fingerprint": row.fingerprint, "labels": alert.labels},
        )
        return incident

    def _move_start_earlier(self, incident: Incident, start: datetime | None) -> bool:
        """Impact began at the earliest alert's start; return whether started_at moved."""
        if start is None or start > incident.detected_at:
            return False
        if incident.started_at is None or start < incident.started_at:
            incidents.update(
                self.session,
                config=self.config,
                incident=incident,
                now=self.now,
                actor=self.actor,
                changes={"started_at": start},
                reason="an alert of this incident started earlier",
            )
            return True
        return False
