"""Uploads over a real socket: chunked bodies, aborted streams, uploads racing for a version."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.requests import ClientDisconnect

from warroom.api import evidence_upload
from warroom.cli.upload import multipart
from warroom.evidence.store import Store, TooLarge
from warroom.runtime import Runtime


@pytest.fixture
def http(live_server: str, tokens: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {tokens['responder']}"}
    with httpx.Client(base_url=live_server, headers=headers, timeout=30) as client:
        assert client.post("/api/v1/incidents", json={"title": "Leak"}).status_code == 201
        yield client


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_chunked_upload_is_hashed_and_one_over_the_limit_keeps_nothing(
    http: httpx.Client, runtime: Runtime, tmp_path: Path
) -> None:
    source = tmp_path / "dump.bin"
    source.write_bytes(bytes(range(256)) * 8000)  # 2,048,000 bytes
    content_type, _length, body = multipart(source, filename="dump.bin", fields={}, chunk=4096)
    # A generator and no Content-Length: sent chunked, counted as it arrives.
    answer = http.post(
        "/api/v1/incidents/INC-1/evidence", content=body, headers={"Content-Type": content_type}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()

    runtime.config().server.max_evidence_bytes = 1_000_000
    content_type, _length, body = multipart(source, filename="dump.bin", fields={}, chunk=4096)
    refused = http.post(
        "/api/v1/incidents/INC-1/evidence", content=body, headers={"Content-Type": content_type}
    )
    assert refused.status_code == 413
    assert "1000000 bytes" in refused.json()["error"]["message"]
    assert len(files_in(runtime.evidence.store.root)) == 1  # the first upload alone
    assert len(runtime.evidence.items("INC-1")) == 1


def test_uploads_of_one_name_at_once_get_one_version_each(
    http: httpx.Client, runtime: Runtime
) -> None:
    def send(index: int) -> int:
        files = {"file": ("notes.txt", f"capture {index}".encode())}
        answer = http.post("/api/v1/incidents/INC-1/evidence", files=files)
        assert answer.status_code == 201, answer.text
        return int(answer.json()["version"])

    with ThreadPoolExecutor(4) as pool:
        versions = sorted(pool.map(send, range(8)))
    assert versions == list(range(1, 9))
    assert len(files_in(runtime.evidence.store.root)) == 8


async def _chunks(parts: list[bytes], then: BaseException | None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if then is not None:
        raise then


@pytest.mark.parametrize("limit", [10 << 20, 100])
def test_a_stream_that_breaks_off_or_passes_the_limit_leaves_no_temporary_file(
    tmp_path: Path, limit: int
) -> None:
    store = Store(tmp_path / "evidence")
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
    parts = [head, b"x" * (3 << 20), b"y" * 4096]  # past one worker batch: a flush in flight
    error = ClientDisconnect() if limit > 100 else None
    expected: type[BaseException] = ClientDisconnect if error else TooLarge
    with pytest.raises(expected):
        asyncio.run(
            evidence_upload.receive(
                _chunks(parts, error),
                content_type="multipart/form-data; boundary=b",
                store=store,
                limit=limit,
            )
        )
    assert files_in(store.root) == []


def test_a_body_cut_off_before_its_closing_boundary_keeps_nothing(
    http: httpx.Client, runtime: Runtime
) -> None:
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
    answer = http.post(
        "/api/v1/incidents/INC-1/evidence",
        content=head + b"half of a file",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert answer.status_code == 422
    assert "cut off" in answer.json()["error"]["message"]
    assert files_in(runtime.evidence.store.root) == []
    assert runtime.evidence.items("INC-1") == []
    whole = head + b"all of it\r\n--b--\r\n"
    kept = http.post(
        "/api/v1/incidents/INC-1/evidence",
        content=whole,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert kept.status_code == 201, kept.text
    assert kept.json()["sha256"] == hashlib.sha256(b"all of it").hexdigest()


def test_an_upload_is_never_held_in_memory(tmp_path: Path) -> None:
    import tracemalloc

    store = Store(tmp_path / "evidence")
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'
    piece = bytes(range(256)) * 256  # 64 KiB, the size uvicorn hands over

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(480):  # 30 MiB
            yield piece
        yield b"\r\n--b--\r\n"

    async def upload() -> evidence_upload.Upload:
        return await evidence_upload.receive(
            body(), content_type="multipart/form-data; boundary=b", store=store, limit=1 << 30
        )

    tracemalloc.start()
    try:
        received = asyncio.run(upload())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received.incoming is not None and received.incoming.size == 480 * len(piece)
    assert peak < 8 << 20, f"{peak} bytes held at once for a 30 MiB upload"
    received.incoming.finish()
    received.incoming.keep()
    assert [p.stat().st_size for p in files_in(store.root)] == [480 * len(piece)]
