"""Evidence use cases: one transaction each, the file kept before its row commits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from warroom.audit import service as audit
from warroom.core.clock import Clock
from warroom.core.errors import Conflict
from warroom.evidence import service
from warroom.evidence.models import EvidenceItem
from warroom.evidence.schemas import EvidenceOut
from warroom.evidence.store import Incoming, Store
from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.incidents.flows import IncidentFlows
from warroom.incidents.models import Incident
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.config import WarroomConfig


class Mismatch(Conflict):
    """A stored file no longer matches the hash taken when it was received."""

    code = "evidence_mismatch"


@dataclass(frozen=True)
class Finding:
    """What `verify` found for one item: None when the file matches its hash."""

    item_id: int
    incident: str
    name: str
    version: int
    sha256: str
    problem: str | None


@dataclass
class EvidenceFlows:
    """Runs the evidence use cases against the database and the store."""

    incidents: IncidentFlows
    store: Store

    @property
    def db(self) -> Database:
        """Return the database."""
        return self.incidents.db

    @property
    def clock(self) -> Clock:
        """Return the injected clock."""
        return self.incidents.clock

    def config(self) -> WarroomConfig:
        """Return the configuration in force."""
        return self.incidents.config()

    def limit(self) -> int:
        """Return the largest file an upload may bring, in bytes (re-read on reload)."""
        return self.config().server.max_evidence_bytes

    def timezone_of(self, name: str) -> str:
        """Return a person's time zone (warroom.yaml), UTC for anyone else."""
        person = self.config().person(name)
        return person.timezone if person is not None else "UTC"

    def add(
        self,
        ref: str,
        *,
        incoming: Incoming,
        name: str,
        filename: str,
        media_type: str,
        note: str,
        actor: Actor,
    ) -> EvidenceOut:
        """Keep a received file under its hash and add it as the next version of `name`."""
        try:
            actor.require("responder", f"add evidence to {ref}")
            name, note = service.check_name(name or filename), service.check_note(note)
            who = actor.name or "system"
            with self.db.transaction() as session:
                incident = incidents.get(session, ref, for_update=True)
                # Named and linked before the row commits: a committed row always has its
                # file. A failed commit leaves a file no row names, harmless and unshared
                # unless another upload brought the same bytes.
                key, _created = incoming.keep()
                item = service.add(
                    session,
                    incident=incident,
                    name=name,
                    original_name=service.original(filename),
                    sha256=key.rsplit("/", 1)[1],
                    size=incoming.size,
                    media_type=media_type[:255] or "application/octet-stream",
                    stored_key=key,
                    actor=who,
                    source=actor.source,
                    at=self.clock.now(),
                    timezone=self.timezone_of(who),
                    note=note,
                )
                out = self._out(session, incident, item)
                number = incident.number
        finally:
            incoming.discard()
        self.incidents.refresh(number, "evidence")
        return out

    def items(self, ref: str) -> list[EvidenceOut]:
        """Return an incident's evidence with each item's custody."""
        with self.db.session() as session:
            incident = incidents.get(session, ref)
            rows = service.items(session, incident=incident)
            custody = service.custody(session, item_ids=[item.id for item in rows])
            return [EvidenceOut.of(item, incident.ref, custody[item.id]) for item in rows]

    def get(self, ref: str, item_id: int) -> EvidenceOut:
        """Return one item with its custody."""
        with self.db.session() as session:
            incident = incidents.get(session, ref)
            return self._out(
                session, incident, service.get(session, incident=incident, item_id=item_id)
            )

    def download(self, ref: str, item_id: int, *, actor: Actor) -> tuple[EvidenceOut, Path]:
        """Re-hash a stored file; when it still matches, record the viewing and return it.

        A mismatch (or a missing file) is audited as failed and refused: what would go out is
        not what was collected.
        """
        item = self.get(ref, item_id)
        who, now = actor.name or "system", self.clock.now()
        key = f"{item.sha256[:2]}/{item.sha256}"
        found = self.store.rehash(key)
        if found is None or found[0] != item.sha256:
            problem = "is missing" if found is None else "no longer matches its SHA-256"
            audit.record_now(
                self.db,
                "evidence.download",
                actor=who,
                at=now,
                target=item.incident,
                outcome="failed",
                details={"evidence_id": item.id, "name": item.name, "problem": problem},
            )
            raise Mismatch(
                f"the stored file of evidence {item.id} ({item.name}, version {item.version}) "
                f"{problem} (SHA-256 {item.sha256}): it is not sent; run `warroom evidence "
                "verify` and restore the file from a backup",
                {"evidence_id": item.id, "sha256": item.sha256},
            )
        out = self._record(
            ref,
            item_id,
            who=who,
            action="viewed",
            location=f"evidence/{key}, a copy downloaded by {who}",
            note="",
        )
        return out, self.store.path(key)

    def transfer(
        self, ref: str, item_id: int, *, actor: Actor, location: str, note: str
    ) -> EvidenceOut:
        """Record a hand-over of an item: where it is now, and why."""
        actor.require("responder", f"record a hand-over of evidence of {ref}")
        return self._record(
            ref,
            item_id,
            who=actor.name or "system",
            action="transferred",
            location=location.strip(),
            note=service.check_note(note),
        )

    def _record(
        self, ref: str, item_id: int, *, who: str, action: str, location: str, note: str
    ) -> EvidenceOut:
        """Append a custody entry and its audit entry in one transaction."""
        now = self.clock.now()
        with self.db.transaction() as session:
            incident = incidents.get(session, ref)
            item = service.get(session, incident=incident, item_id=item_id)
            service.record(
                session,
                item=item,
                who=who,
                action=action,
                at=now,
                timezone=self.timezone_of(who),
                location=location,
                note=note,
            )
            audit_action = {"viewed": "evidence.download", "transferred": "evidence.transfer"}[
                action
            ]
            details: dict[str, str | int] = {**service.details_of(item), "location": location}
            audit.record(
                session, audit_action, actor=who, at=now, target=incident.ref, details=details
            )
            session.flush()
            return self._out(session, incident, item)

    def verify(self, *, actor: str, progress: Callable[[int], None] | None = None) -> list[Finding]:
        """Re-hash every stored file; record each check on its custody, and one audit entry."""
        with self.db.session() as session:
            rows = [
                (item.id, f"INC-{number}", item.name, item.version, item.sha256, item.stored_key)
                for item, number in service.every_item(session)
            ]
        findings: list[Finding] = []
        for item_id, ref, name, version, sha256, key in rows:
            found = self.store.rehash(key)
            problem = None
            if found is None:
                problem = f"the file {self.store.root / key} is missing"
            elif found[0] != sha256:
                problem = f"the file no longer matches its SHA-256 (it hashes to {found[0]})"
            findings.append(Finding(item_id, ref, name, version, sha256, problem))
            if progress:
                progress(found[1] if found else 0)
        now = self.clock.now()
        bad = [f for f in findings if f.problem]
        with self.db.transaction() as session:
            for finding in findings:
                item = session.get(EvidenceItem, finding.item_id)
                assert item is not None  # items are never deleted (triggers refuse it)
                service.record(
                    session,
                    item=item,
                    who=actor,
                    action="verified",
                    at=now,
                    timezone="UTC",
                    location=f"evidence/{item.stored_key}",
                    note=finding.problem or "the file matches its SHA-256",
                )
            audit.record(
                session,
                "evidence.verify",
                actor=actor,
                at=now,
                outcome="failed" if bad else "ok",
                details={
                    "checked": len(findings),
                    "mismatched": [f.item_id for f in bad],
                },
            )
        return findings

    def exported(self, session: Session, incident: Incident, *, actor: str) -> list[EvidenceOut]:
        """Return an incident's evidence for an export, recording it on each item's custody."""
        now = self.clock.now()
        rows = service.items(session, incident=incident)
        for item in rows:
            service.record(
                session,
                item=item,
                who=actor,
                action="exported",
                at=now,
                timezone=self.timezone_of(actor),
                location="the postmortem export (runbooks archive/)",
            )
        if rows:
            audit.record(
                session,
                "evidence.export",
                actor=actor,
                at=now,
                target=incident.ref,
                details={"evidence_ids": [item.id for item in rows]},
            )
        session.flush()
        custody = service.custody(session, item_ids=[item.id for item in rows])
        return [EvidenceOut.of(item, incident.ref, custody[item.id]) for item in rows]

    def _out(self, session: Session, incident: Incident, item: EvidenceItem) -> EvidenceOut:
        session.flush()
        custody = service.custody(session, item_ids=[item.id])
        return EvidenceOut.of(item, incident.ref, custody[item.id])


def postmortem_section(flows: EvidenceFlows, ref: str, actor: str | None) -> tuple[str, str]:
    """Return the postmortem export's Evidence section (markdown, HTML); empty without any."""
    from warroom.evidence import report

    with flows.db.transaction() as session:
        incident = incidents.get(session, ref)
        if not service.items(session, incident=incident):
            return "", ""
        items = flows.exported(session, incident, actor=actor or "system:postmortem")
    return report.render_markdown(items), report.render_html(items)
