"""The ceiling of the stack: Python HTTP endpoints that do nothing but read the body, and
one that does only the minimum durable work of a new incident.

`bench.intake` loads `raw` and `fastapi` with the same wrk scripts as warroom's intake, to show
how many requests a second any intake written on uvicorn (and on FastAPI) can reach on this
machine before it stores anything. `bench.storm --floor` sends its storm to `storm`: an
Alertmanager intake on raw `sqlite3` (no ORM) that writes the rows warroom writes for a new
incident, with one writer thread committing each drain of its queue in one transaction, and
the incident's runbook file after the commit (unless `--no-files`), all before answering.

    python -m bench.ceiling raw|fastapi PORT
    python -m bench.ceiling storm PORT DIR [--no-files]   # the token in BENCH_STORM_TOKEN
"""

from __future__ import annotations

import asyncio
import hmac
import os
import queue
import re
import sqlite3
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

# At module level: with postponed annotations FastAPI resolves `request: Request` in the
# module's globals; imported inside the app's function, `request` became a required query
# parameter and every request was a 422 that never read the body.
from fastapi import FastAPI, Request, Response


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app: read the whole body, answer 200 with a small JSON body."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"accepted":1}'})


def fastapi_app() -> Any:
    """A FastAPI route that reads the raw body and answers: FastAPI's own cost, nothing more."""
    app = FastAPI()

    @app.post("/{path:path}")
    async def intake(request: Request) -> dict[str, int]:
        await request.body()
        return {"accepted": 1}

    return app


# A minimal copy of the rows warroom writes for a new incident (incidents/models.py,
# detection/models.py), with the indexes that cost writes; not the search index's triggers
# (bench.index_cost measures those).
SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('incident_number', 0);
CREATE TABLE IF NOT EXISTS incidents (
  id INTEGER PRIMARY KEY, number INTEGER NOT NULL UNIQUE, slug TEXT NOT NULL,
  title TEXT NOT NULL, summary TEXT NOT NULL, status TEXT NOT NULL, severity TEXT NOT NULL,
  peak_severity TEXT NOT NULL, paging_held INTEGER NOT NULL, incident_type TEXT NOT NULL,
  service TEXT, commander TEXT, visibility TEXT NOT NULL, links TEXT NOT NULL,
  source TEXT NOT NULL, runbook_template TEXT, owner TEXT, module TEXT, created_by TEXT,
  parent_number INTEGER, started_at TEXT, detected_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_incidents_detected_at ON incidents (detected_at);
CREATE INDEX IF NOT EXISTS ix_incidents_status_number ON incidents (status, number);
CREATE INDEX IF NOT EXISTS ix_incidents_service_number ON incidents (service, number);
CREATE INDEX IF NOT EXISTS ix_incidents_parent_number ON incidents (parent_number);
CREATE TABLE IF NOT EXISTS alert_groups (
  id INTEGER PRIMARY KEY, group_key TEXT NOT NULL, is_open INTEGER NOT NULL,
  incident_id INTEGER REFERENCES incidents (id), created_at TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS uq_alert_groups_open_key ON alert_groups (group_key)
  WHERE is_open;
CREATE TABLE IF NOT EXISTS timeline_events (
  id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incidents (id),
  at TEXT NOT NULL, kind TEXT NOT NULL, actor TEXT, source TEXT NOT NULL, text TEXT NOT NULL,
  data TEXT NOT NULL, key_event INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS ix_timeline_events_incident_id_id
  ON timeline_events (incident_id, id);
CREATE TABLE IF NOT EXISTS checklist_items (
  id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL REFERENCES incidents (id),
  section TEXT NOT NULL, section_position INTEGER NOT NULL, position INTEGER NOT NULL,
  text TEXT NOT NULL, owner TEXT, done_at TEXT);
CREATE INDEX IF NOT EXISTS ix_checklist_items_incident_id ON checklist_items (incident_id);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, integration TEXT NOT NULL,
  kind TEXT NOT NULL, fingerprint TEXT NOT NULL, status TEXT NOT NULL,
  is_open INTEGER NOT NULL, title TEXT NOT NULL, severity TEXT, labels TEXT NOT NULL,
  annotations TEXT NOT NULL, starts_at TEXT, ends_at TEXT, generator_url TEXT,
  group_key TEXT, received_at TEXT NOT NULL, last_seen_at TEXT NOT NULL,
  seen_count INTEGER NOT NULL, incident_id INTEGER REFERENCES incidents (id), raw TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_alerts_incident_id ON alerts (incident_id);
CREATE INDEX IF NOT EXISTS ix_alerts_received_at ON alerts (received_at);
CREATE UNIQUE INDEX IF NOT EXISTS uq_alerts_open_fingerprint
  ON alerts (fingerprint, source, integration) WHERE is_open;
"""
# warroom's pragmas (storage/db.py): FULL, so an answer means the rows survive a power cut.
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
)
# The generic runbook template's checklist (docs/runbooks/templates/generic.md).
CHECKLIST = (
    (
        "Containment",
        "Limit the blast radius: take the failing component out of rotation or traffic.",
        "Turn off the feature or job that is causing harm, if one is known.",
        "Tell support and the status page audience what users are seeing.",
    ),
    (
        "Remediation",
        "Roll back the most recent change to the affected service, if there was one.",
        "Apply a targeted fix when a rollback is not possible.",
        "Restore data from backup if data was lost or corrupted.",
    ),
    (
        "Verification",
        "Check the user-facing symptom is gone (dashboards, synthetic checks, a real request).",
        "Watch error rates and latency for a full verification window before resolving.",
    ),
)
ACTOR = "alertmanager/storm"
STORM_TEXT = "paged there, and acknowledged with it"
# fsyncs of different files overlap. warroom writes on one thread, to keep rewrites of an
# incident's file in order; a new incident's file is written once.
FILE_THREADS = 4


@dataclass
class Opened:
    """A new incident as committed: what its answer and its runbook file need."""

    number: int
    title: str
    slug: str
    service: str
    at: str
    summary: str
    events: list[tuple[str, str, bool]] = field(default_factory=list)  # text, actor, key


def _json(value: Any) -> str:
    """JSON as text: warroom's JSON columns hold text, not blobs."""
    return orjson.dumps(value).decode()


def parse_webhook(body: bytes) -> dict[str, Any]:
    """Check an Alertmanager webhook (version 4) minimally; ValueError says what is wrong."""
    payload = orjson.loads(body)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(payload, dict) or payload.get("version") != "4":
        raise ValueError("expected an Alertmanager webhook of version 4")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise ValueError("alerts: expected a non-empty list")
    for alert in alerts:
        if not (isinstance(alert, dict) and isinstance(alert.get("labels"), dict)):
            raise ValueError("alerts: each alert needs its labels")
        if not isinstance(alert.get("annotations", {}), dict):
            raise ValueError("alerts: annotations must be an object")
        if not isinstance(alert.get("fingerprint"), str):
            raise ValueError("alerts: each alert needs its fingerprint")
    if not isinstance(payload.get("groupKey"), str):
        raise ValueError("groupKey: expected a string")
    return payload


class Writer:
    """One thread owns the SQLite file: each drain of its queue is one transaction."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in PRAGMAS:
            self.db.execute(pragma)
        self.db.executescript(SCHEMA)
        self._reload()
        self.parent: int | None = None  # the storm's first incident: later ones name it
        self.jobs: queue.SimpleQueue[tuple[dict[str, Any], asyncio.Future[Opened | None]]]
        self.jobs = queue.SimpleQueue()
        threading.Thread(target=self._run, name="writer", daemon=True).start()

    def submit(self, payload: dict[str, Any]) -> asyncio.Future[Opened | None]:
        """Queue a webhook; the future holds its new incident (None: its group is open)."""
        future = asyncio.get_running_loop().create_future()
        self.jobs.put((payload, future))
        return future

    def _reload(self) -> None:
        # The writer numbers rows itself (it alone writes): executemany needs no RETURNING.
        self.number = self.db.execute("SELECT value FROM counters").fetchone()[0]
        self.incident_id = self.db.execute("SELECT max(id) FROM incidents").fetchone()[0] or 0
        self.alert_id = self.db.execute("SELECT max(id) FROM alerts").fetchone()[0] or 0

    def _run(self) -> None:
        while True:
            batch = [self.jobs.get()]
            while True:  # everything queued meanwhile shares this commit and its fsync
                try:
                    batch.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            try:
                results: list[Any] = self._commit([payload for payload, _ in batch])
            except Exception as exc:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                self._reload()
                results = [exc] * len(batch)
            # One wake-up of the event loop per drain, not one per request.
            loop = batch[0][1].get_loop()
            loop.call_soon_threadsafe(_settle, [f for _, f in batch], results)

    def _commit(self, payloads: list[dict[str, Any]]) -> list[Opened | None]:
        """Write the new incidents of one drain with one statement per table."""
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        keys = [f"alertmanager:storm:{p['groupKey']}" for p in payloads]
        marks = ",".join("?" * len(keys))
        # A real intake must not open a second incident for an open group.
        taken = {
            key
            for (key,) in db.execute(
                f"SELECT group_key FROM alert_groups WHERE is_open AND group_key IN ({marks})",
                keys,
            )
        }
        incidents: list[tuple[Any, ...]] = []
        groups: list[tuple[Any, ...]] = []
        alerts: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        items: list[tuple[Any, ...]] = []
        opened: list[Opened | None] = []
        for payload, key in zip(payloads, keys, strict=True):
            if key in taken:
                opened.append(None)
                continue
            taken.add(key)
            self.number += 1
            self.incident_id += 1
            number, incident = self.number, self.incident_id
            self.parent = self.parent or number
            first = payload["alerts"][0]
            title = str(
                first.get("annotations", {}).get("summary")
                or first["labels"].get("alertname", "alert")
            )
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:64]
            service = str(first["labels"].get("service", ""))
            summary = f"Source: {first.get('generatorURL', '')}"
            incidents.append(
                (incident, number, slug, title, summary, "detected", "SEV-2", "SEV-2", 0,
                 "default", service, None, "public", "{}", "alertmanager", "generic",
                 "incident-response", service, ACTOR, self.parent, now, now, now)
            )  # fmt: skip
            groups.append((key, 1, incident, now))
            declared = _json(
                {"severity": "SEV-2", "visibility": "public", "commander": None,
                 "paging_held": False, "suggested_severity": None}
            )  # fmt: skip
            row = Opened(number, title, slug, service, now, summary)
            events.append((incident, now, "declared", ACTOR, "alertmanager",
                           f"Declared INC-{number} (SEV-2): {title}", declared, 1))  # fmt: skip
            row.events.append((events[-1][5], ACTOR, True))
            for index, alert in enumerate(payload["alerts"]):
                self.alert_id += 1
                labels = alert["labels"]
                annotations = alert.get("annotations", {})
                name = str(annotations.get("summary") or labels.get("alertname", ""))
                alerts.append(
                    (self.alert_id, "alertmanager", "storm", "alert", alert["fingerprint"],
                     alert.get("status", "firing"), 1, name, "SEV-2", _json(labels),
                     _json(annotations), alert.get("startsAt"), None,
                     alert.get("generatorURL"), key, now, now, 1, incident, _json(alert))
                )  # fmt: skip
                data = {"alert_id": self.alert_id, "fingerprint": alert["fingerprint"]}
                if index == 0:
                    text = f"Alertmanager alert: {name}"
                    data["labels"] = labels
                else:
                    text = f"Alertmanager alert joined: {name}"
                events.append((incident, now, "alert", ACTOR, "alertmanager", text,
                               _json(data), 0))  # fmt: skip
                row.events.append((text, ACTOR, False))
                if index == 0 and number != self.parent:  # where warroom says it
                    text = f"Part of alert storm INC-{self.parent}: {STORM_TEXT}"
                    events.append((incident, now, "storm_joined", None, "storm", text,
                                   _json({"parent": self.parent}), 0))  # fmt: skip
                    row.events.append((text, "storm", False))
            for section_position, (section, *texts) in enumerate(CHECKLIST):
                items += [
                    (incident, section, section_position, position, text)
                    for position, text in enumerate(texts)
                ]
            opened.append(row)
        db.executemany(f"INSERT INTO incidents VALUES ({','.join('?' * 23)})", incidents)
        db.executemany(
            "INSERT INTO alert_groups (group_key, is_open, incident_id, created_at)"
            " VALUES (?, ?, ?, ?)",
            groups,
        )
        db.executemany(f"INSERT INTO alerts VALUES ({','.join('?' * 20)})", alerts)
        db.executemany(
            "INSERT INTO timeline_events (incident_id, at, kind, actor, source, text, data,"
            " key_event) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            events,
        )
        db.executemany(
            "INSERT INTO checklist_items (incident_id, section, section_position, position,"
            " text) VALUES (?, ?, ?, ?, ?)",
            items,
        )
        db.execute("UPDATE counters SET value = ? WHERE name = 'incident_number'", (self.number,))
        db.execute("COMMIT")
        return opened


def _settle(futures: list[asyncio.Future[Any]], results: list[Any]) -> None:
    for future, result in zip(futures, results, strict=True):
        if future.done():  # the client went away
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def render_runbook(incident: Opened) -> str:
    """The incident's runbook file, shaped like warroom's (front matter, checklist, timeline)."""
    at = incident.at.replace(" ", "T")[:19] + "Z"
    checklist = "\n\n".join(
        f"### {section}\n\n" + "\n".join(f"- [ ] {text}" for text in texts)
        for section, *texts in CHECKLIST
    )
    timeline = "\n".join(
        f"| {at} | {'★ ' if key else ''}{text} | {actor} |" for text, actor, key in incident.events
    )
    return (
        f"---\nnumber: INC-{incident.number}\ntitle: {incident.title}\nstatus: detected\n"
        f"severity: SEV-2\ncommander: null\ntype: default\nowner: incident-response\n"
        f"module: {incident.service}\nservice: {incident.service}\nvisibility: public\n"
        f"template: generic\nmilestones:\n  started_at: '{at}'\n  detected_at: '{at}'\n"
        "  acknowledged_at: null\n  triaged_at: null\n  mitigated_at: null\n"
        "  resolved_at: null\n  closed_at: null\n---\n\n"
        f"# INC-{incident.number}: {incident.title}\n\n**Status:** detected · **Severity:** "
        "SEV-2 (High) · **Commander:** unassigned · **Visibility:** public\n\n"
        f"## Summary\n\n{incident.summary}\n\n## Initial assessment\n\n"
        "- **Impact:** _not yet assessed_\n- **Scope:** _not yet assessed_\n"
        "- **Priority:** _not yet assessed_\n\n## Checklist (0/8)\n\n"
        "Containment 0/3 · Remediation 0/3 · Verification 0/2\n\n"
        f"{checklist}\n\n## Timeline\n\n| Time (UTC) | Event | By |\n|---|---|---|\n"
        f"{timeline}\n"
    )


def write_runbook(directory: Path, incident: Opened) -> None:
    """Write the file under a temporary name, fsync, rename: readers never see half of it."""
    path = directory / f"INC-{incident.number}-{incident.slug}.md"
    temp = directory / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, render_runbook(incident).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)


def storm_app(directory: Path, token: str, *, files: bool = True) -> Any:
    """The floor of a new-incident intake: FastAPI, raw sqlite3, group commit, files."""
    writer = Writer(directory / "floor.db")
    active = directory / "active"
    active.mkdir(exist_ok=True)
    pool = ThreadPoolExecutor(FILE_THREADS, thread_name_prefix="files")
    expected = f"Bearer {token}".encode()
    app = FastAPI()

    def answer(status: int, body: dict[str, Any]) -> Response:
        return Response(orjson.dumps(body), status, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return answer(200, {"status": "ok"})

    @app.post("/api/v1/intake/alertmanager")
    async def intake(request: Request) -> Response:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return answer(401, {"detail": "missing or wrong bearer token"})
        try:
            payload = parse_webhook(await request.body())
        except ValueError as exc:
            return answer(422, {"detail": str(exc)})
        incident = await writer.submit(payload)  # committed when it resolves
        if incident is not None and files:
            await asyncio.get_running_loop().run_in_executor(pool, write_runbook, active, incident)
        opened = [f"INC-{incident.number}"] if incident else []
        return answer(200, {"accepted": len(payload["alerts"]), "incidents_opened": opened})

    return app


def main(argv: list[str]) -> None:
    """Serve one of the apps on 127.0.0.1:PORT (one process, as warroom serve)."""
    import uvicorn

    kind, port = argv[0], int(argv[1])
    if kind == "storm":
        token = os.environ["BENCH_STORM_TOKEN"]
        app = storm_app(Path(argv[2]), token, files="--no-files" not in argv[3:])
    else:
        app = raw_app if kind == "raw" else fastapi_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
