"""The status service on SQLite and PostgreSQL: posting, reading, and the public view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.helpers import SKIP
from tests.status.conftest import close, declare
from warroom.core.clock import FrozenClock
from warroom.core.errors import Conflict, Invalid
from warroom.incidents import service as incidents
from warroom.incidents.actor import Actor
from warroom.incidents.models import TimelineEvent
from warroom.runtime import Runtime
from warroom.status import service
from warroom.status.models import StatusUpdate
from warroom.status.schemas import PublicStatus


def post(runtime: Runtime, ref: str, **fields: Any) -> int:
    """Post an update through the service; return its id."""
    values: dict[str, Any] = {"status": "investigating", "body": "Looking", "components": {}}
    values |= {"public": True, "author": "rita"} | fields
    with runtime.db.transaction() as session:
        incident = incidents.get(session, ref, for_update=True)
        row = service.post_update(
            session,
            config=runtime.config().status_page,
            incident=incident,
            now=runtime.clock.now(),
            **values,
        )
        return row.id


def public(runtime: Runtime) -> PublicStatus:
    with runtime.db.session() as session:
        return service.public_status(session, runtime.config().status_page, runtime.clock.now())


def counts(runtime: Runtime) -> tuple[int, int]:
    """Return (status update rows, status_update timeline events)."""
    with runtime.db.session() as session:
        rows = session.scalar(select(func.count()).select_from(StatusUpdate))
        events = session.scalar(
            select(func.count())
            .select_from(TimelineEvent)
            .where(TimelineEvent.kind == "status_update")
        )
    return int(rows or 0), int(events or 0)


def statuses(summary: PublicStatus) -> dict[str, str]:
    return {c.id: c.status for c in summary.components}


def test_post_writes_the_update_and_its_timeline_event(runtime: Runtime) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    body = "Payments fail. " * 40  # longer than a timeline line
    update_id = post(
        runtime,
        ref,
        status="identified",
        body=body,
        components={"api": "major_outage"},
        public_title="  Payments   are failing ",
    )
    with runtime.db.session() as session:
        row = session.get(StatusUpdate, update_id)
        assert row is not None
        assert (row.status, row.body, row.author, row.public) == (
            "identified",
            body.strip(),
            "rita",
            True,
        )
        assert row.components == {"api": "major_outage"} and row.at == runtime.clock.now()
        assert row.public_title == "Payments are failing"  # on one line, as titles are
        event = session.scalars(
            select(TimelineEvent).where(TimelineEvent.kind == "status_update")
        ).one()
        assert event.data == {
            "status": "identified",
            "components": {"api": "major_outage"},
            "public": True,
            "update_id": update_id,
            "body": body.strip(),
            "public_title": "Payments are failing",
        }
        assert (event.actor, event.source, event.at) == ("rita", "api", runtime.clock.now())
        assert event.text.startswith("Public update (identified): Payments fail.")
        assert len(event.text) <= 280 and event.text.endswith("…")


def test_last_update_at_counts_private_updates(runtime: Runtime, clock: FrozenClock) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    with runtime.db.session() as session:
        number = incidents.get(session, ref).id
        assert service.last_update_at(session, number) is None
    post(runtime, ref, public_title="Checkout trouble")
    clock.advance(timedelta(minutes=30))
    post(runtime, ref, public=False, body="internal only")
    with runtime.db.session() as session:
        when = service.last_update_at(session, number)
    assert when == clock.now() and when is not None and when.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"components": {"db": "major_outage"}}, Invalid, "unknown component 'db'"),
        ({"components": {"api": "on_fire"}}, Invalid, "unknown status 'on_fire'"),
        ({"status": "fixed"}, Invalid, "unknown status 'fixed'"),
        ({"body": "   "}, Invalid, "body must be 1 to 5000"),
        ({"body": "x" * 5_001}, Invalid, "body must be 1 to 5000"),
    ],
)
def test_bad_updates_write_nothing(
    runtime: Runtime, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    with pytest.raises(error, match=message):
        post(runtime, ref, **fields)
    assert counts(runtime) == (0, 0)


def test_closed_incident_takes_no_updates(runtime: Runtime) -> None:
    ref = declare(runtime, "Checkout is down", service="checkout")
    close(runtime, ref)
    with pytest.raises(Conflict, match="INC-1 is closed"):
        post(runtime, ref)
    assert counts(runtime) == (0, 0)


def test_restricted_incident_takes_private_updates_only(runtime: Runtime) -> None:
    ref = declare(runtime, "Credentials leaked", incident_type="security", service="accounts")
    with pytest.raises(Invalid, match="restricted"):
        post(runtime, ref, components={"login": "major_outage"})
    assert counts(runtime) == (0, 0)
    post(runtime, ref, public=False, components={"login": "major_outage"})
    assert counts(runtime) == (1, 1)
    summary = public(runtime)
    assert summary.incidents == [] and statuses(summary)["login"] == "operational"
    assert "Credentials" not in summary.model_dump_json()


def test_quiet_page(runtime: Runtime) -> None:
    declare(runtime, "Checkout is down", service="checkout")  # no public update yet
    summary = public(runtime)
    assert (summary.status.indicator, summary.status.description) == (
        "none",
        "All Systems Operational",
    )
    assert set(statuses(summary).values()) == {"operational"}
    assert summary.incidents == summary.past_incidents == []
    assert [c.position for c in summary.components] == [1, 2, 3]


def test_components_take_the_worst_status_of_open_incidents(runtime: Runtime) -> None:
    one = declare(runtime, "Checkout is slow", service="checkout")
    two = declare(runtime, "Search is down", service="search")
    post(runtime, one, public_title="Slow checkout")  # names nothing: its component is implied
    summary = public(runtime)
    assert statuses(summary) == {
        "api": "degraded_performance",
        "web": "operational",
        "login": "operational",
    }
    assert summary.status.indicator == "minor"
    post(
        runtime,
        two,
        components={"api": "major_outage", "web": "partial_outage"},
        public_title="Search unavailable",
    )
    summary = public(runtime)
    assert statuses(summary) == {
        "api": "major_outage",
        "web": "partial_outage",
        "login": "operational",
    }
    assert (summary.status.indicator, summary.status.description) == (
        "critical",
        "Major Service Outage",
    )
    assert [i.id for i in summary.incidents] == ["INC-2", "INC-1"]
    assert summary.incidents[0].components == ["api", "web"]
    assert summary.incidents[0].impact == "critical"
    # The latest update wins within an incident: INC-2 now says the API is fine.
    post(runtime, two, status="monitoring", components={"api": "operational"})
    assert statuses(public(runtime))["api"] == "degraded_performance"  # INC-1 still implies it


def test_resolved_update_clears_implied_components(runtime: Runtime) -> None:
    ref = declare(runtime, "Checkout is slow", service="checkout")
    post(runtime, ref, public_title="Slow checkout")
    post(runtime, ref, status="resolved", body="Fixed")
    summary = public(runtime)
    assert statuses(summary)["api"] == "operational"
    # Still open (not yet resolved in warroom), so it shows; an open one is at least minor.
    assert summary.status.indicator == "minor" and summary.incidents[0].status == "resolved"


def test_updates_are_newest_first_and_private_ones_hidden(
    runtime: Runtime, clock: FrozenClock
) -> None:
    ref = declare(runtime, "Checkout is slow", service="checkout")
    post(runtime, ref, body="first", public_title="Slow checkout")
    clock.advance(timedelta(minutes=5))
    post(runtime, ref, body="secret root cause", public=False)
    clock.advance(timedelta(minutes=5))
    post(runtime, ref, body="third", status="identified")
    incident = public(runtime).incidents[0]
    assert [u.body for u in incident.incident_updates] == ["third", "first"]
    assert (incident.created_at, incident.updated_at) == (
        clock.now() - timedelta(minutes=10),
        clock.now(),
    )
    with runtime.db.session() as session:
        rows = service.updates(session, incident=incidents.get(session, ref))
        assert [r.body for r in rows] == ["third", "secret root cause", "first"]


def test_incident_made_restricted_later_disappears(runtime: Runtime) -> None:
    ref = declare(runtime, "Checkout is slow", service="checkout")
    post(runtime, ref, components={"api": "partial_outage"}, public_title="Slow checkout")
    assert public(runtime).incidents
    runtime.flows.update(
        ref, actor=Actor(name="rita", source="api"), changes={"visibility": "restricted"}
    )
    summary = public(runtime)
    assert summary.incidents == [] and statuses(summary)["api"] == "operational"


def test_resolved_incidents_stay_for_history_days(runtime: Runtime, clock: FrozenClock) -> None:
    ref = declare(runtime, "Checkout is slow", service="checkout")
    post(runtime, ref, components={"api": "partial_outage"}, public_title="Slow checkout")
    clock.advance(timedelta(hours=1))
    post(runtime, ref, status="resolved", body="Fixed", components={"api": "operational"})
    runtime.flows.transition(
        ref, "resolve", actor=Actor(name="rita", source="api"), skip_verification=SKIP
    )
    summary = public(runtime)
    assert summary.incidents == [] and statuses(summary)["api"] == "operational"
    assert [i.id for i in summary.past_incidents] == ["INC-1"]
    past = summary.past_incidents[0]
    assert past.resolved_at == clock.now() and past.impact == "major"  # the worst it got
    clock.advance(timedelta(days=14, seconds=1))
    assert public(runtime).past_incidents == []
