"""The incident room's evidence: an upload form (multipart, with the CSRF token) and downloads.

The form goes through the flow the API uses; a refusal shows the room with the reason, and
nothing is kept. A download re-hashes the file first, as the API's does.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import DB_INT_MAX
from warroom.api.evidence import receive_upload
from warroom.core.errors import WarroomError
from warroom.core.text import show_bidi
from warroom.evidence.store import TooLarge
from warroom.web.incident_pages import room
from warroom.web.page import PageRoute, Responder, SignedIn, see_other

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ItemId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]


@router.post("/incidents/{ref}/evidence")
async def upload(ref: str, request: Request, viewer: Responder) -> Response:
    """Keep the form's file as evidence of the incident; back to the room's Evidence."""
    runtime = viewer.runtime
    try:
        received = await receive_upload(request, runtime)
    except TooLarge as exc:
        message = f"the file is over the evidence limit of {exc.limit} bytes; nothing was kept"
        return await run_in_threadpool(room, request, viewer, ref, error=message, status=413)
    except WarroomError as exc:
        return await run_in_threadpool(
            room, request, viewer, ref, error=exc.message, status=exc.status
        )
    incoming = received.incoming
    assert incoming is not None
    try:
        await run_in_threadpool(incoming.finish)
        await run_in_threadpool(
            runtime.evidence.add,
            ref,
            incoming=incoming,
            name=received.fields.get("name", ""),
            filename=received.filename,
            media_type=received.media_type,
            note=received.fields.get("note", ""),
            actor=viewer.actor(),
        )
    except WarroomError as exc:
        return await run_in_threadpool(
            room, request, viewer, ref, error=exc.message, status=exc.status
        )
    finally:
        incoming.discard()
    return see_other(f"/incidents/{ref}#evidence")


@router.get("/incidents/{ref}/evidence/{item_id}")
def download(ref: str, item_id: ItemId, viewer: SignedIn) -> Response:
    """Send an evidence file after re-hashing it (refused when it no longer matches)."""
    item, path = viewer.runtime.evidence.download(ref, item_id, actor=viewer.actor())
    digest = base64.b64encode(bytes.fromhex(item.sha256)).decode()
    return FileResponse(
        path,
        media_type="application/octet-stream",  # never rendered in warroom's origin
        filename=show_bidi(item.name),  # no right-to-left override to disguise `.exe`
        content_disposition_type="attachment",
        headers={
            "Repr-Digest": f"sha-256=:{digest}:",
            "X-Evidence-SHA256": item.sha256,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
