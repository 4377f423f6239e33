"""`GET /events`: one server-sent-event stream per tab, filtered by what its viewer may see.

Each event says only which incident's timeline grew (number, event id, kind); the page
fetches the fragment itself, through the same access checks as any other read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from warroom.api.deps import DB_INT_MAX, RuntimeDep, Viewer, access_of
from warroom.auth import service as auth
from warroom.auth import sessions
from warroom.auth.scopes import check_request
from warroom.auth.service import Principal
from warroom.core.errors import WarroomError
from warroom.incidents import live
from warroom.incidents.service import parse_ref
from warroom.runtime import Runtime
from warroom.storage.bus import LOST, LiveEvent

router = APIRouter()

REPLAY_LIMIT = 500  # more missed than this: the page reloads rather than replay them all
PING_SECONDS = 15  # a comment this often keeps proxies from closing a quiet stream
RECHECK_SECONDS = 30  # a disabled user, revoked token or ended session loses the stream
SEEN_SECONDS = 2.0  # how long a stream trusts its answer to "may I see INC-n"
RETRY_MS = 2000
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
# Kinds that can change who sees an incident (grants, roles, visibility, type): their event
# is checked afresh, so the grant itself reaches the person let in.
ACCESS_KINDS = frozenset(
    {
        "declared",
        "access_granted",
        "field_changed",
        "commander_changed",
        "commander_proposed",
        "role_changed",
        "notification",
    }
)


@router.get("/events", include_in_schema=False)
async def events(
    request: Request,
    runtime: RuntimeDep,
    principal: Viewer,
    incident: Annotated[str | None, Query(description="INC-n: one incident's room")] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, le=DB_INT_MAX, description="replay what came after this id")
    ] = None,
    last_event_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Stream the timeline events the caller may see (cookie or bearer token)."""
    number = parse_ref(incident) if incident else None
    # The browser's Last-Event-ID (sent on a reconnect) wins over the id the page was rendered
    # with: it is newer, and replaying from the page's would send events twice.
    after = _event_id(last_event_header)
    if after is None:
        after = last_event_id
    if number is not None:  # a hidden or missing incident answers 404, like any read
        await run_in_threadpool(
            runtime.flows.check_visible,
            f"INC-{number}",
            access_of(principal, runtime),
            request=f"GET /events?incident={number}",
        )
    publicity = getattr(request.app.state, "live_publicity", None)
    if publicity is None:  # one per app: its streams share one event loop
        publicity = request.app.state.live_publicity = _Publicity(runtime)
    stream = _Stream(request, runtime, principal, number, publicity)
    return EventSourceResponse(
        stream.run(after), headers=HEADERS, ping=PING_SECONDS, send_timeout=30
    )


def _event_id(header: str | None) -> int | None:
    """Return the id of a `Last-Event-ID` header, or None (no replay) for none or a bad one."""
    # Lenient: browsers send back only ids we gave, and an error status would stop their
    # EventSource from reconnecting at all.
    if header is None or not header.strip().isdigit():
        return None
    return min(int(header), DB_INT_MAX)


class _Stream:
    """One open stream: its viewer, its filter, and what it knows of their access."""

    def __init__(
        self,
        request: Request,
        runtime: Runtime,
        principal: Principal,
        number: int | None,
        publicity: _Publicity,
    ) -> None:
        self.request = request
        self.publicity = publicity
        self.runtime = runtime
        self.number = number
        self.access = access_of(principal, runtime)
        self.checked = time.monotonic()
        self.seen: dict[int, tuple[bool, float]] = {}  # number -> (may see, until)

    async def run(self, after: int | None) -> AsyncIterator[ServerSentEvent]:
        """Yield the replay (if reconnecting), then live events until told to stop."""
        bus = self.runtime.live
        # Subscribe before reading the replay: nothing committed in between is missed.
        subscription = bus.subscribe(asyncio.get_running_loop())
        getter: asyncio.Future[list[LiveEvent]] | None = None
        try:
            yield ServerSentEvent(comment="connected", retry=RETRY_MS)
            replayed: set[int] = set()
            if after is not None:
                missed = await run_in_threadpool(
                    live.replay,
                    self.runtime.db,
                    self.runtime.config(),
                    self.access,
                    after=after,
                    number=self.number,
                    limit=REPLAY_LIMIT + 1,
                )
                if len(missed) > REPLAY_LIMIT:
                    yield await self._reload()
                    return
                for event in missed:
                    replayed.add(event.id)
                    yield _message(event)
            while True:
                # A getter kept across timeouts: cancelling one (wait_for) may drop a batch.
                if getter is None:
                    getter = asyncio.ensure_future(subscription.get())
                wait = self.checked + RECHECK_SECONDS - time.monotonic()
                done, _ = await asyncio.wait({getter}, timeout=max(wait, 0))
                batch = getter.result() if done else []
                if done:
                    getter = None
                due = time.monotonic() - self.checked >= RECHECK_SECONDS
                if due and not await run_in_threadpool(self._still_allowed):
                    return
                if batch is LOST:
                    yield await self._reload()
                    return
                for event in await self._visible(batch):
                    if event.id not in replayed:
                        yield _message(event)
        finally:
            if getter is not None:
                getter.cancel()
            bus.unsubscribe(subscription)

    async def _visible(self, batch: list[LiveEvent]) -> list[LiveEvent]:
        """Return the events of `batch` this stream shows: its incident, and visible now."""
        if self.number is not None:
            batch = [e for e in batch if e.number == self.number]
        if not batch or self.access.sees_everything:
            return batch
        # Public incidents, the common case, are asked once for every stream of the process.
        public = await self.publicity.public(batch)
        rest = [e for e in batch if e.number not in public]
        if not rest:
            return batch
        now = time.monotonic()
        ask = {
            e.number
            for e in rest
            if e.kind in ACCESS_KINDS or self.seen.get(e.number, (False, 0.0))[1] <= now
        }
        if ask:
            yes = await run_in_threadpool(
                live.visible_numbers, self.runtime.db, self.runtime.config(), self.access, ask
            )
            for n in ask:
                self.seen[n] = (n in yes, now + SEEN_SECONDS)
        return [e for e in batch if e.number in public or self.seen[e.number][0]]

    async def _reload(self) -> ServerSentEvent:
        """Return the event telling the page it missed too much: reload it whole."""
        # With the newest id, so the browser's reconnect does not ask for the same replay.
        newest = await run_in_threadpool(live.head, self.runtime.db)
        return ServerSentEvent(data="{}", event="reload", id=str(newest))

    def _still_allowed(self) -> bool:
        """Authenticate the stream's request again (no sliding of a session's idle time)."""
        self.checked = time.monotonic()
        try:
            principal = _reauthenticate(self.request, self.runtime)
            principal.require("viewer")
        except WarroomError:
            return False
        self.access = access_of(principal, self.runtime)
        self.seen.clear()  # a new role or new teams: decide again
        return True


class _Publicity:
    """Which incidents are public: one answer for every stream of the app, asked once.

    200 streams receive the same event at once; without this each would query. An answer
    holds for SEEN_SECONDS, but for an event that may change access (making an incident
    public or restricted) only an answer asked after that event was committed counts.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        # number -> (public, valid until, newest event id committed when asked)
        self.answers: dict[int, tuple[bool, float, int]] = {}
        self.asking: dict[int, tuple[asyncio.Future[set[int]], int]] = {}

    async def public(self, batch: list[LiveEvent]) -> set[int]:
        """Return the numbers of the batch's incidents that are public now."""
        now = time.monotonic()
        needed: dict[int, int] = {}  # number -> the event id an answer must postdate
        for e in batch:
            after = e.id if e.kind in ACCESS_KINDS else 0
            needed[e.number] = max(needed.get(e.number, 0), after)
        public: set[int] = set()
        waits: list[tuple[int, asyncio.Future[set[int]]]] = []
        ask: set[int] = set()
        for number, after in needed.items():
            answer = self.answers.get(number)
            if answer is not None and answer[1] > now and answer[2] >= after:
                if answer[0]:
                    public.add(number)
            elif (flight := self.asking.get(number)) is not None and flight[1] >= after:
                waits.append((number, flight[0]))
            else:
                ask.add(number)
        if ask:
            public |= await self._ask(ask, max(e.id for e in batch), now)
        for number, future in waits:
            if number in await future:
                public.add(number)
        return public

    async def _ask(self, numbers: set[int], newest: int, now: float) -> set[int]:
        future: asyncio.Future[set[int]] = asyncio.get_running_loop().create_future()
        for number in numbers:
            self.asking[number] = (future, newest)
        found: set[int] = set()
        if len(self.answers) > 10_000:  # old incidents' answers: forget them all at times
            self.answers.clear()
        try:
            found = await run_in_threadpool(live.public_numbers, self.runtime.db, numbers)
            for number in numbers:
                self.answers[number] = (number in found, now + SEEN_SECONDS, newest)
        finally:
            # Failed or cancelled (its stream closed): the others fall back to their own check.
            future.set_result(found)
            for number in numbers:
                if self.asking.get(number, (None, 0))[0] is future:
                    del self.asking[number]
        return found


def _reauthenticate(request: Request, runtime: Runtime) -> Principal:
    """Return who the request's token or cookie belongs to now, or raise Unauthorized."""
    now = runtime.clock.now()
    header = request.headers.get("authorization", "")
    try:
        with runtime.db.reading() as connection:
            if header.lower().startswith("bearer "):
                principal = auth.authenticate(connection, token=header[7:].strip(), now=now)
                check_request(principal.scopes, method="GET", path=request.url.path)
                return principal
            # An open tab is no sign of someone at the keyboard: read the session without
            # recording its use, so its idle timeout still ends it (and this stream).
            info = sessions.authenticate_session(
                connection,
                secret=request.cookies.get(sessions.COOKIE, ""),
                now=now,
                config=runtime.config().auth.sessions,
            )
            return info.principal
    except sessions.SessionExpired as exc:
        runtime.sign_ins.expired(exc)  # the audit log's session.expired, once
        raise


def _message(event: LiveEvent) -> ServerSentEvent:
    """Return the SSE of one timeline event: ids and kind only, never its text or title."""
    data = {"incident": f"INC-{event.number}", "number": event.number, "id": event.id}
    data["kind"] = event.kind
    return ServerSentEvent(data=orjson.dumps(data).decode(), event="timeline", id=str(event.id))
