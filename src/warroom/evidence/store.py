"""The evidence files: named by their SHA-256 under the data directory, never overwritten."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from warroom.storage.files import FILE_MODE, secure_dir

CHUNK = 1 << 20  # reads of 1 MiB: hashing runs near memory speed, the GIL released
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}$")


def key_of(sha256: str) -> str:
    """Return where the file with this hash lives, relative to the store: `ab/abcdef…`."""
    return f"{sha256[:2]}/{sha256}"


class TooLarge(Exception):
    """The file passed the upload limit; what was written of it is gone already."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"over the limit of {limit} bytes")
        self.limit = limit


@dataclass
class Incoming:
    """A file being received: written to a temporary file and hashed, chunk by chunk."""

    store: Store
    limit: int
    size: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256)
    _file: BinaryIO | None = None
    _path: Path | None = None

    def __post_init__(self) -> None:
        fd, temp = tempfile.mkstemp(dir=self.store.root, prefix=".upload-", suffix=".tmp")
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600 already; said here, not assumed
        self._file, self._path = os.fdopen(fd, "wb", buffering=0), Path(temp)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hash and write one chunk; past the limit, remove the file and raise TooLarge."""
        try:
            self.count(len(data))
        except TooLarge:
            self.discard()
            raise
        self.put(data)

    def count(self, size: int) -> None:
        """Count `size` more bytes against the limit; past it, raise TooLarge.

        The caller discards the file, once no worker thread is writing to it.
        """
        self.size += size
        if self.size > self.limit:
            raise TooLarge(self.limit)

    def put(self, data: bytes | bytearray | memoryview) -> None:
        """Hash and write bytes already counted (hashlib and the write release the GIL)."""
        assert self._file is not None, "written after it was kept or discarded"
        self._hash.update(data)
        self._file.write(data)

    @property
    def sha256(self) -> str:
        """Return the hex SHA-256 of what was written so far."""
        return self._hash.hexdigest()

    def finish(self) -> None:
        """Flush the bytes to the disk (evidence must survive a power cut once answered)."""
        assert self._file is not None
        os.fsync(self._file.fileno())
        self._file.close()

    def keep(self) -> tuple[str, bool]:
        """Give the file its hash's name unless that exists; return the key and if it is new.

        `os.link` fails on an existing name, so a stored file is never replaced, even by
        an upload of the same bytes racing this one.
        """
        assert self._path is not None
        digest = self.sha256
        key = key_of(digest)
        target = self.store.root / key
        secure_dir(target.parent)
        try:
            os.link(self._path, target)
            created = True
        except FileExistsError:
            created = False  # identical content is stored once
        self.discard()
        return key, created

    def discard(self) -> None:
        """Remove the temporary file (idempotent)."""
        if self._file is not None and not self._file.closed:
            self._file.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            self._path = None


@dataclass(frozen=True)
class Store:
    """The evidence directory (0700), with files 0600 named by content hash."""

    root: Path

    @classmethod
    def under(cls, data_dir: Path) -> Store:
        """Return the store in `data_dir/evidence` (made, owner-only, by the first upload)."""
        return cls(Path(data_dir) / "evidence")

    def receive(self, *, limit: int) -> Incoming:
        """Start receiving a file of at most `limit` bytes."""
        secure_dir(self.root)
        return Incoming(store=self, limit=limit)

    def path(self, key: str) -> Path:
        """Return the file of a stored key (only keys this store makes are accepted)."""
        if not _KEY.match(key):
            raise ValueError(f"not an evidence key: {key!r}")
        return self.root / key

    def rehash(self, key: str) -> tuple[str, int] | None:
        """Return the SHA-256 and size of a stored file now, or None when it is gone."""
        try:
            with self.path(key).open("rb") as handle:
                digest, size = hashlib.sha256(), 0
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            return None
        return digest.hexdigest(), size

    def chunks(self, key: str) -> Iterator[bytes]:
        """Yield a stored file's bytes."""
        with self.path(key).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    def leftovers(self) -> list[Path]:
        """Return temporary files of uploads that never finished (a crash mid-upload)."""
        return sorted(self.root.glob(".upload-*.tmp")) if self.root.is_dir() else []
