"""Evidence routes: upload (streamed and hashed), list, one item, download, hand-over."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from warroom.api import evidence_upload
from warroom.api.cookies import FORM_TYPES, SAFE_METHODS
from warroom.api.deps import DB_INT_MAX, Responder, RuntimeDep, Viewer, VisibleIncident, actor_of
from warroom.api.errors import ERROR_RESPONSES
from warroom.auth.sessions import COOKIE
from warroom.core.errors import Invalid, WarroomError
from warroom.core.text import show_bidi
from warroom.evidence.schemas import EvidenceOut, TransferIn
from warroom.evidence.store import Incoming, TooLarge

EvidenceId = Annotated[int, Path(ge=1, le=DB_INT_MAX, description="The evidence item's id")]

# Registered before the incidents router, like every router under /api/v1/incidents/{ref}/….
router = APIRouter(
    prefix="/api/v1/incidents",
    tags=["evidence"],
    responses=ERROR_RESPONSES,
    dependencies=[VisibleIncident],
)

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "note": {"type": "string", "description": "What it is, where from."},
                        "name": {"type": "string", "description": "Instead of the file's name."},
                    },
                }
            }
        },
    }
}


class EvidenceTooLarge(WarroomError):
    """The file is over `server.max_evidence_bytes`."""

    code = "too_large"
    status = 413


def _form_read_already(request: Request) -> bool:
    """Tell whether the CSRF check parsed the form already (a browser's cookie post)."""
    bearer = request.headers.get("authorization", "").lower().startswith("bearer ")
    kind = request.headers.get("content-type", "")
    return (
        request.method not in SAFE_METHODS
        and COOKIE in request.cookies
        and not bearer
        and kind.startswith(FORM_TYPES)
    )


async def receive_upload(request: Request, runtime: RuntimeDep) -> evidence_upload.Upload:
    """Stream the body into the store; a browser's form was spooled by the CSRF check."""
    store, limit = runtime.evidence.store, runtime.evidence.limit()
    kind = request.headers.get("content-type", "")
    if not _form_read_already(request):
        return await evidence_upload.receive(
            request.stream(), content_type=kind, store=store, limit=limit
        )
    form = await request.form()  # parsed once already; Starlette keeps it
    upload = evidence_upload.Upload()
    for name in evidence_upload.TEXT_FIELDS:
        value = form.get(name)
        if isinstance(value, str):
            upload.fields[name] = value
    sent = form.get(evidence_upload.FILE_FIELD)
    if sent is None or isinstance(sent, str):
        raise Invalid("the form has no file", {"field": "file"})
    upload.filename = sent.filename or ""
    upload.media_type = evidence_upload.media_type_of(sent.content_type or "", upload.filename)
    incoming: Incoming = store.receive(limit=limit)
    upload.incoming = incoming
    try:
        while chunk := await sent.read(1 << 20):
            incoming.write(chunk)
    except BaseException:
        incoming.discard()
        raise
    return upload


@router.post(
    "/{ref}/evidence",
    status_code=status.HTTP_201_CREATED,
    response_model=EvidenceOut,
    openapi_extra=UPLOAD_BODY,
)
async def upload(
    ref: str, request: Request, runtime: RuntimeDep, principal: Responder
) -> EvidenceOut:
    """Add evidence: the file is hashed (SHA-256) and written as it arrives, kept by its hash.

    A name uploaded again becomes its next version; both are kept. Over
    `server.max_evidence_bytes` the answer is 413 and nothing is kept.
    """
    actor = actor_of(principal, request)
    try:
        received = await receive_upload(request, runtime)
    except TooLarge as exc:
        raise EvidenceTooLarge(
            f"the file is over the evidence limit of {exc.limit} bytes "
            "(server.max_evidence_bytes); nothing was kept",
            {"limit": exc.limit},
        ) from None
    incoming = received.incoming
    assert incoming is not None
    try:
        await run_in_threadpool(incoming.finish)
        return await run_in_threadpool(
            runtime.evidence.add,
            ref,
            incoming=incoming,
            name=received.fields.get("name", ""),
            filename=received.filename,
            media_type=received.media_type,
            note=received.fields.get("note", ""),
            actor=actor,
        )
    finally:
        incoming.discard()


@router.get("/{ref}/evidence", response_model=list[EvidenceOut])
def list_evidence(ref: str, runtime: RuntimeDep, _principal: Viewer) -> list[EvidenceOut]:
    """Return the incident's evidence, every version, each with its chain of custody."""
    return runtime.evidence.items(ref)


@router.get("/{ref}/evidence/{evidence_id}", response_model=EvidenceOut)
def show(ref: str, evidence_id: EvidenceId, runtime: RuntimeDep, _principal: Viewer) -> EvidenceOut:
    """Return one evidence item with its chain of custody."""
    return runtime.evidence.get(ref, evidence_id)


@router.get(
    "/{ref}/evidence/{evidence_id}/content",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
def download(
    ref: str, evidence_id: EvidenceId, request: Request, runtime: RuntimeDep, principal: Viewer
) -> FileResponse:
    """Send the file after re-hashing it; a file that no longer matches is refused (409).

    Each download is on the item's custody (viewed) and in the audit log. `Repr-Digest`
    carries the SHA-256 so the receiver can check what arrived.
    """
    item, path = runtime.evidence.download(ref, evidence_id, actor=actor_of(principal, request))
    digest = base64.b64encode(bytes.fromhex(item.sha256)).decode()
    # Always an attachment of octet-stream: an uploaded HTML file must never render here.
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=show_bidi(item.name),  # no right-to-left override to disguise `.exe`
        content_disposition_type="attachment",
        headers={
            "Repr-Digest": f"sha-256=:{digest}:",
            "X-Evidence-SHA256": item.sha256,
            "X-Evidence-Media-Type": item.media_type,
            "Cache-Control": "no-store",
        },
    )


@router.post("/{ref}/evidence/{evidence_id}/custody", response_model=EvidenceOut)
def transfer(
    ref: str,
    evidence_id: EvidenceId,
    body: TransferIn,
    request: Request,
    runtime: RuntimeDep,
    principal: Responder,
) -> EvidenceOut:
    """Record a hand-over of the evidence (transferred): where it is now, and why."""
    return runtime.evidence.transfer(
        ref,
        evidence_id,
        actor=actor_of(principal, request),
        location=body.location,
        note=body.note,
    )
