"""Read an evidence upload's multipart body as it arrives: the file to the store, hashed.

Starlette's `request.form()` spools a file to a temporary file before the route sees it;
here each chunk goes straight to the store's hash and file, so an upload is written once.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from warroom.core.errors import Invalid
from warroom.evidence.store import Incoming, Store

BATCH = 1 << 20  # bytes hashed and written per hop to a worker thread
FIELD_MAX = 64 * 1024  # the note and name fields: text, never a file
FILE_FIELD = "file"
TEXT_FIELDS = ("note", "name")
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]{0,126}/[A-Za-z0-9][\w.+-]{0,126}$")


class NotMultipart(Invalid):
    """The body is not multipart/form-data."""

    code = "unsupported_media_type"
    status = 415


@dataclass
class Upload:
    """What an upload's form held: the received file (hashed), its name and type, the fields."""

    incoming: Incoming | None = None
    filename: str = ""
    media_type: str = "application/octet-stream"
    fields: dict[str, str] = field(default_factory=dict)


def boundary_of(content_type: str) -> bytes:
    """Return the multipart boundary of a Content-Type, or raise NotMultipart."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise NotMultipart(
            "send the evidence as multipart/form-data with the file in a field named 'file' "
            "(and optional 'note' and 'name' fields)"
        )
    return boundary


def media_type_of(declared: str, filename: str) -> str:
    """Return the part's declared media type, else one guessed from the file name."""
    kind = declared.split(";", 1)[0].strip().lower()
    if _MEDIA_TYPE.match(kind) and kind != "application/octet-stream":
        return kind
    guessed = mimetypes.guess_type(filename, strict=False)[0]
    return guessed or "application/octet-stream"


async def receive(
    chunks: AsyncIterator[bytes], *, content_type: str, store: Store, limit: int
) -> Upload:
    """Parse the body, writing the file part into the store; the caller discards on error."""
    upload = Upload()
    state = _Parts(upload=upload, store=store, limit=limit)
    parser = MultipartParser(
        boundary_of(content_type),
        {
            "on_part_begin": state.part_begin,
            "on_header_field": state.header_field,
            "on_header_value": state.header_value,
            "on_header_end": state.header_end,
            "on_headers_finished": state.headers_finished,
            "on_part_data": state.part_data,
            "on_part_end": state.part_end,
        },
    )
    # The file's bytes gather in `state.pending`; each megabyte is hashed and written on a
    # worker thread while this one parses the next (hashlib and writes release the GIL), one
    # batch in flight so they land in order: hashing no longer waits on the network.
    loop = asyncio.get_running_loop()
    job: Awaitable[None] | None = None
    try:
        async for chunk in chunks:
            parser.write(chunk)
            if len(state.pending) >= BATCH:
                if job is not None:
                    await job
                job = loop.run_in_executor(None, state.flush())  # starts now
        parser.finalize()
        if parser.state != MultipartState.END:  # python-multipart's finalize checks nothing
            raise Invalid(
                "the upload ended before the form's closing boundary: it was cut off, and "
                "nothing was kept"
            )
        if job is not None:
            await job
            job = None
        state.flush()()
    except BaseException:
        if job is not None:
            with contextlib.suppress(Exception):
                await job  # the worker finishes with the file before it is removed
        if upload.incoming is not None:
            upload.incoming.discard()
        raise
    if upload.incoming is None:
        raise Invalid("the form has no file: send it in a field named 'file'", {"field": "file"})
    return upload


@dataclass
class _Parts:
    """The parser's callbacks: headers of each part, then its data to the file or a field."""

    upload: Upload
    store: Store
    limit: int
    _field: bytes = b""
    _value: bytes = b""
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _name: str = ""
    _text: bytearray | None = None
    _file: Incoming | None = None
    pending: bytearray = field(default_factory=bytearray)

    def part_begin(self) -> None:
        self._headers, self._field, self._value = {}, b"", b""

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def headers_finished(self) -> None:
        _kind, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._text = self._file = None
        if self._name == FILE_FIELD:
            if self.upload.incoming is not None:
                raise Invalid("send one file per upload", {"field": "file"})
            name = (filename or b"").decode("utf-8", "replace")
            declared = self._headers.get(b"content-type", b"").decode("latin-1")
            self.upload.filename = name
            self.upload.media_type = media_type_of(declared, name)
            self._file = self.upload.incoming = self.store.receive(limit=self.limit)
        elif self._name in TEXT_FIELDS and filename is None:
            self._text = bytearray()
        else:
            raise Invalid(
                f"unexpected form field {self._name!r}: send 'file', 'note' and 'name'",
                {"field": self._name},
            )

    def flush(self) -> Callable[[], None]:
        """Return a call that hashes and writes the bytes gathered so far (on any thread)."""
        batch, self.pending = self.pending, bytearray()
        incoming = self.upload.incoming
        if incoming is None or not batch:
            return lambda: None
        return partial(incoming.put, batch)

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.count(end - start)  # past the limit: removed and refused at once
            self.pending += memoryview(data)[start:end]
        elif self._text is not None:
            self._text += data[start:end]
            if len(self._text) > FIELD_MAX:
                raise Invalid(f"the {self._name} field is over {FIELD_MAX} bytes")

    def part_end(self) -> None:
        if self._text is not None:
            try:
                self.upload.fields[self._name] = self._text.decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid(f"the {self._name} field is not UTF-8") from None
        self._text = self._file = None
