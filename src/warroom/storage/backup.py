"""Backups: one archive with the database and the evidence files, and its restore.

The archive is a tar file: `manifest.json` (format, backend, migration, when, and the SHA-256
and size of every other member), the database — SQLite through its online backup API (a
consistent copy while warroom runs), PostgreSQL through `pg_dump --format=custom` — and the
evidence store's files. Runbook files are not in it: they are written from the database, and
a restore writes them again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from sqlalchemy.engine import make_url

from warroom.core.errors import Conflict, Invalid

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PG_MEMBER = "database.pgdump"
EVIDENCE = "evidence"
Progress = Callable[[str], None]
# Without pg_dump, a PostgreSQL database goes into the archive as a SQLite file written by
# `warroom db copy`'s code: `portable(path)` writes it, `portable_restore(path)` reads it back.
Portable = Callable[[Path], None]


@dataclass(frozen=True)
class Made:
    """What a backup holds."""

    backend: str
    revision: str | None
    files: int
    bytes: int


def backend_of(url: str) -> str:
    """Return `sqlite` or `postgresql` for a database URL."""
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise Invalid(f"backups know SQLite and PostgreSQL, not {name}")
    return name


def create(
    *,
    url: str,
    data_dir: Path,
    target: Path,
    revision: str | None,
    progress: Progress,
    portable: Portable | None = None,
) -> Made:
    """Write the archive to `target` (via a temporary file: a failed backup leaves nothing)."""
    backend = backend_of(url)
    target = target.resolve()
    files: dict[str, dict[str, object]] = {}
    form = "pg_dump" if backend == "postgresql" and shutil.which("pg_dump") else "file"
    if backend == "postgresql" and form != "pg_dump":
        if portable is None:
            _pg_tool("pg_dump")  # says what to install
        form = "portable"
    with tempfile.TemporaryDirectory(prefix="warroom-backup-") as tmp:
        work = Path(tmp)
        dump = work / (PG_MEMBER if form == "pg_dump" else SQLITE_MEMBER)
        portable_note = " (no pg_dump here: the portable form)" if form == "portable" else ""
        progress(f"copying the database{portable_note}")
        if backend == "sqlite":
            _sqlite_copy(Path(make_url(url).database or ""), dump)
        elif form == "pg_dump":
            _pg_dump(url, dump)
        else:
            assert portable is not None
            portable(dump)
        partial = target.with_name(f".{target.name}.partial")
        with tarfile.open(partial, "w") as archive:
            files[dump.name] = _add(archive, dump, dump.name)
            store = data_dir / EVIDENCE
            evidence = sorted(p for p in store.rglob("*") if p.is_file()) if store.is_dir() else []
            progress(f"adding {len(evidence)} evidence files")
            for path in evidence:
                if path.name.startswith(".upload-"):
                    continue  # an upload in progress: not evidence yet
                name = f"{EVIDENCE}/{path.relative_to(store).as_posix()}"
                files[name] = _add(archive, path, name)
            manifest = {
                "format": FORMAT,
                "backend": backend,
                "form": form,
                "revision": revision,
                "created_at": datetime.now(UTC).isoformat(),
                "files": files,
            }
            body = json.dumps(manifest, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o600
            archive.addfile(info, io.BytesIO(body))
        os.chmod(partial, 0o600)  # it holds everything warroom knows
        os.replace(partial, target)
    size = sum(int(str(f["size"])) for f in files.values())
    return Made(backend, revision, len(files), size)


def read_manifest(source: Path) -> dict[str, object]:
    """Return an archive's manifest, checked; raise Invalid when it is not a warroom backup."""
    try:
        with tarfile.open(source, "r") as archive:
            member = archive.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise Invalid(f"{source} is not a warroom backup ({type(exc).__name__}: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Invalid(f"{source}: unknown backup format {manifest.get('format')!r}")
    return manifest


def restore(
    *,
    source: Path,
    url: str,
    data_dir: Path,
    progress: Progress,
    portable_restore: Portable | None = None,
) -> dict[str, object]:
    """Put the archive's database and evidence in place of the configured ones.

    Every member is checked against the manifest before anything is replaced.
    """
    manifest = read_manifest(source)
    backend = backend_of(url)
    if manifest["backend"] != backend:
        raise Conflict(
            f"{source} is a {manifest['backend']} backup and the database is {backend}: "
            "restore into the same kind of database"
        )
    listed = manifest["files"]
    assert isinstance(listed, dict)
    with tempfile.TemporaryDirectory(prefix="warroom-restore-") as tmp:
        work = Path(tmp)
        progress("checking the archive")
        with tarfile.open(source, "r") as archive:
            for name, expected in listed.items():
                _extract(archive, str(name), work, expected)
        progress("restoring the database")
        if backend == "sqlite":
            _sqlite_restore(work / SQLITE_MEMBER, Path(make_url(url).database or ""))
        elif manifest.get("form") == "portable":
            if portable_restore is None:
                raise Conflict(f"{source} holds the portable form: restore it with warroom restore")
            portable_restore(work / SQLITE_MEMBER)
        else:
            _pg_restore(url, work / PG_MEMBER)
        progress("restoring the evidence files")
        store = data_dir / EVIDENCE
        if (work / EVIDENCE).is_dir():
            store.mkdir(parents=True, exist_ok=True, mode=0o700)
            for path in sorted((work / EVIDENCE).rglob("*")):
                kept = store / path.relative_to(work / EVIDENCE)
                if path.is_dir():
                    kept.mkdir(exist_ok=True, mode=0o700)
                elif not kept.exists():  # content-addressed: the same name is the same bytes
                    shutil.copyfile(path, kept)
                    os.chmod(kept, 0o600)
    return manifest


def _add(archive: tarfile.TarFile, path: Path, name: str) -> dict[str, object]:
    """Add a file owner-only; return its size and SHA-256 for the manifest."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    info = archive.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with open(path, "rb") as handle:
        archive.addfile(info, handle)
    return {"size": info.size, "sha256": digest.hexdigest()}


def _extract(archive: tarfile.TarFile, name: str, work: Path, expected: object) -> None:
    """Extract one listed member after checking its name, size and hash."""
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts:
        raise Invalid(f"the backup names a file outside itself: {name!r}")
    try:
        member = archive.getmember(name)
        handle: IO[bytes] | None = archive.extractfile(member)
    except KeyError:
        raise Invalid(f"the backup lacks {name}, which its manifest lists") from None
    if handle is None or not isinstance(expected, dict):
        raise Invalid(f"the backup's {name} is not a file")
    target = work / Path(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with handle, open(target, "wb") as out:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != expected.get("sha256"):
        raise Invalid(f"the backup's {name} does not match its manifest: the archive is damaged")


def _sqlite_copy(database: Path, dump: Path) -> None:
    """Copy a live SQLite database with its online backup API (consistent, WAL included)."""
    if not database.is_file():
        raise Invalid(f"there is no SQLite database at {database}")
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    copy = sqlite3.connect(dump)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()


def _sqlite_restore(dump: Path, database: Path) -> None:
    """Replace the database file by the backup's (the old one goes aside, then away)."""
    database.parent.mkdir(parents=True, exist_ok=True)
    staged = database.with_name(f".{database.name}.restoring")
    shutil.copyfile(dump, staged)
    os.chmod(staged, 0o600)
    for suffix in ("-wal", "-shm"):  # the old database's log must not replay onto the new one
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    os.replace(staged, database)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Conflict(f"{name} is not installed: PostgreSQL backups need it (postgresql-client)")
    return found


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    """Return libpq connection options and environment (the password never on a command line)."""
    parsed = make_url(url)
    args = ["--host", parsed.host or "127.0.0.1", "--port", str(parsed.port or 5432)]
    if parsed.username:
        args += ["--username", parsed.username]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return [*args, "--dbname", parsed.database or "postgres"], env


def _pg_dump(url: str, dump: Path) -> None:
    args, env = _pg_args(url)
    command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(dump), *args]
    _run(command, env, "pg_dump")


def _pg_restore(url: str, dump: Path) -> None:
    args, env = _pg_args(url)
    command = [
        _pg_tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        *args,
        str(dump),
    ]
    _run(command, env, "pg_restore")


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise Conflict(f"{what} failed (exit {done.returncode}): {last[0][:300]}")


def members(source: Path) -> Iterator[str]:
    """Yield the names an archive holds (for tests and `warroom restore --list`)."""
    with tarfile.open(source, "r") as archive:
        yield from archive.getnames()
