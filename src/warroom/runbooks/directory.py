"""The runbook directory: templates/ to read, active/ and archive/ to write incident files."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from warroom.core.errors import Invalid
from warroom.incidents.flows import TemplateChoice
from warroom.incidents.schemas import IncidentDetail
from warroom.runbooks.document import render
from warroom.runbooks.templates import FALLBACK_CHECKLIST, find_template, parse_template

if TYPE_CHECKING:
    from warroom.config import WarroomConfig

log = logging.getLogger("warroom.runbooks")
DONE_STATUSES = ("resolved", "closed")
# Bounds of what is kept per incident, so a server that runs for months does not grow with
# every incident it ever wrote: writes of one incident share one of LOCK_STRIPES locks, and the
# newest event written is remembered for the WRITTEN_LIMIT incidents written most recently
# (the check it serves is between writes of one incident a moment apart).
LOCK_STRIPES = 64
WRITTEN_LIMIT = 4096
FAILURES_LISTED = 10  # files not written that /readyz names one by one


class RunbookDirectory:
    """Reads templates and keeps one markdown file per incident in active/ or archive/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.templates = root / "templates"
        self.active = root / "active"
        self.archive = root / "archive"
        self._lock = threading.Lock()  # guards the dictionaries below
        self._locks = tuple(threading.Lock() for _ in range(LOCK_STRIPES))
        # incident number -> newest timeline event id written, least recently written first
        self._written: OrderedDict[int, int] = OrderedDict()
        self._parsed: dict[Path, tuple[tuple[int, int], TemplateChoice]] = {}
        self.failures: dict[int, str] = {}  # incident number -> last write error
        self._failed_at: dict[int, tuple[str, float]] = {}  # number -> (file name, wall time)

    def file_name(self, number: int, slug: str) -> str:
        """Return the predictable file name of an incident: `INC-<n>-<slug>.md`."""
        return f"INC-{number}-{slug}.md"

    def path_for(self, incident: IncidentDetail) -> Path:
        """Return where the incident's file belongs for its current status."""
        folder = self.archive if incident.status in DONE_STATUSES else self.active
        return folder / self.file_name(incident.number, incident.slug)

    def choose_template(
        self,
        config: WarroomConfig,
        *,
        runbook: str | None,
        incident_type: str | None,
        service: str | None,
    ) -> TemplateChoice:
        """Pick the template: explicit, else the service's, else the type's, else `generic`."""
        if runbook is not None and find_template(self.templates, runbook) is None:
            raise Invalid(
                f"no runbook template {runbook!r} in {self.templates}", {"field": "runbook"}
            )
        candidates = [runbook]
        service_config = config.service(service) if service else None
        candidates.append(service_config.runbook if service_config else None)
        type_config = config.incident_type(incident_type or "default")
        candidates.append(type_config.template if type_config else None)
        candidates.append("generic")
        for name in candidates:
            if name and (path := find_template(self.templates, name)) is not None:
                return self._load_choice(path, name)
        log.warning("no runbook template found in %s; using the built-in checklist", self.templates)
        return TemplateChoice(name=None, checklist=list(FALLBACK_CHECKLIST))

    def _load_choice(self, path: Path, name: str) -> TemplateChoice:
        """Parse a template once per version of the file (keyed by mtime and size)."""
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._parsed.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        template = parse_template(path, name)
        owner, module = template.meta.get("owner"), template.meta.get("module")
        choice = TemplateChoice(
            name=name,
            checklist=template.checklist or list(FALLBACK_CHECKLIST),
            owner=owner if isinstance(owner, str) else None,
            module=module if isinstance(module, str) else None,
        )
        self._parsed[path] = (key, choice)
        return choice

    def publish(self, incident: IncidentDetail, severity_name: str | None = None) -> bool:
        """Write the incident's file where it belongs and remove any copy elsewhere.

        Returns False (and remembers why, for /readyz) when the directory cannot be written;
        the database stays the truth and `warroom runbooks sync` rewrites the file later.
        """
        newest = incident.timeline[-1].id if incident.timeline else 0
        text = render(incident, severity_name)
        # restricted incidents stay readable by the server's user only
        mode = 0o600 if incident.visibility == "restricted" else 0o644
        # A lock per incident (striped): writes of different incidents (and fsyncs) overlap.
        with self._incident_lock(incident.number):
            if self._newest_written(incident.number) > newest:
                return True  # a newer state of this incident is already on disk
            target = self.path_for(incident)
            try:
                _atomic_write(target, text, mode)
                # A detected incident has never been resolved, so never archived: no copy to
                # look for (a storm writes thousands of them, and each look is a failed stat).
                for folder in (self.active, self.archive) if incident.status != "detected" else ():
                    stale = folder / target.name
                    if folder != target.parent and stale.exists():
                        stale.unlink()
            except OSError as exc:
                message = f"cannot write {target}: {exc.strerror or exc}"
                with self._lock:
                    self.failures[incident.number] = message
                    self._failed_at[incident.number] = (target.name, time.time())
                log.error("runbook file not written: %s", message, extra={"incident": incident.ref})
                return False
            with self._lock:
                self._written[incident.number] = newest
                self._written.move_to_end(incident.number)
                if len(self._written) > WRITTEN_LIMIT:
                    self._written.popitem(last=False)
                self.failures.pop(incident.number, None)
                self._failed_at.pop(incident.number, None)
            return True

    def _incident_lock(self, number: int) -> threading.Lock:
        """Return the lock that serialises file writes of one incident (and of a few others)."""
        return self._locks[number % LOCK_STRIPES]

    def _newest_written(self, number: int) -> int:
        """Return the newest timeline event id written of an incident, or -1 if not known."""
        with self._lock:
            return self._written.get(number, -1)

    def problems(self) -> list[str]:
        """Return what is wrong with the directory now (for /readyz)."""
        found = []
        for folder in (self.active, self.archive):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
                    pass
            except OSError as exc:
                found.append(f"{folder} is not writable: {exc.strerror or exc}")
        with self._lock:
            for number, (name, failed_at) in list(self._failed_at.items()):
                # Rewritten since by another process (`warroom runbooks sync`): no longer a problem.
                if any(_modified_since(f / name, failed_at) for f in (self.active, self.archive)):
                    self.failures.pop(number, None)
                    del self._failed_at[number]
            failed = sorted(self.failures.items())
            # A full disk through an alert storm fails thousands: /readyz names a few.
            found.extend(f"INC-{n}: {msg}" for n, msg in failed[:FAILURES_LISTED])
            if len(failed) > FAILURES_LISTED:
                found.append(
                    f"… and {len(failed) - FAILURES_LISTED:,} more incidents whose runbook file "
                    "is not written (`warroom runbooks sync` writes them all)"
                )
        return found


def _modified_since(path: Path, moment: float) -> bool:
    """Return True if `path` is a file last written at or after `moment` (epoch seconds)."""
    try:
        return path.is_file() and path.stat().st_mtime >= moment
    except OSError:
        return False


def _atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to `path` via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Named by process and thread, not mkstemp's random name (a third of this function's
    # time in a storm): one thread writes one file at a time, and the rename is atomic.
    # Always a new file (O_EXCL), made 0600: one left by a crash, or made by someone else,
    # could have another mode or owner, and a restricted incident's text must not go in it.
    temp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(temp, flags, 0o600)
    except FileExistsError:  # rare: a name of its own, as mkstemp gives
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        fd, temp = handle, Path(name)
    try:
        try:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(fd, data) :]
            os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
