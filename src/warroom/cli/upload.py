"""A multipart/form-data body streamed from a file, its length known before it is sent.

httpx would read the file in 64 KiB pieces; here it goes in 1 MiB ones, and a callback sees
each, for the progress bar.
"""

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

CHUNK = 1 << 20


def _quoted(text: str) -> bytes:
    """Return a form field's name or file name as browsers quote it (HTML's form encoding)."""
    escaped = text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")
    return escaped.encode("utf-8")


def multipart(
    path: Path,
    *,
    filename: str,
    fields: dict[str, str],
    media_type: str = "application/octet-stream",
    progress: Callable[[int], None] | None = None,
    chunk: int = CHUNK,
) -> tuple[str, int, Iterator[bytes]]:
    """Return (Content-Type, Content-Length, body) for `fields` and the file as `file`."""
    boundary = secrets.token_hex(16).encode()
    head = b""
    for name, value in fields.items():
        head += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="'
        head += _quoted(name) + b'"\r\n\r\n' + value.encode("utf-8") + b"\r\n"
    head += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="'
    head += _quoted(filename) + b'"\r\nContent-Type: ' + media_type.encode("latin-1")
    head += b"\r\n\r\n"
    tail = b"\r\n--" + boundary + b"--\r\n"
    size = os.stat(path).st_size

    def body() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            while piece := handle.read(chunk):
                yield piece
                if progress is not None:
                    progress(len(piece))
        yield tail

    content_type = f"multipart/form-data; boundary={boundary.decode()}"
    return content_type, len(head) + size + len(tail), body()
