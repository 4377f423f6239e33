"""What every intake source turns its payload into, before routing and dedup."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AlertStatus = Literal["firing", "resolved"]
# Alertmanager writes this for "no end time"; treat it as None.
ZERO_TIME_PREFIX = "0001-01-01"
RAW_LIMIT = 16 * 1024  # bytes of one alert's raw JSON we keep


@dataclass
class AlertIn:
    """One alert (or user report) in a source-neutral shape."""

    source: str  # alertmanager, grafana, pagerduty, jira, slack, webhook, web
    fingerprint: str  # the dedup key: same value = same alert
    status: AlertStatus
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    title: str | None = None  # a title suggested by the source (summary, issue summary, …)
    summary: str | None = None  # longer text (description, message)
    severity: str | None = None  # the source's own word: critical, sev2, P1, high, …
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str | None = None
    links: list[dict[str, str]] = field(default_factory=list)  # [{"title":…, "url":…}]
    group_key: str | None = None  # the source's grouping (Alertmanager groupKey), if any
    reporter: str | None = None  # for user reports: who reported it
    kind: Literal["alert", "report"] = "alert"  # reports always open their own incident
    held: bool = False  # a viewer's report: default severity, paging waits for triage
    event: str | None = None  # source event when not plain firing/resolved ("acknowledged")
    drill: int | None = None  # injected by a drill (drills/): its incident is that drill's
    raw: dict[str, Any] = field(default_factory=dict)  # this alert's own JSON, capped on store


@dataclass(frozen=True)
class RouteDecision:
    """What routing decided for one alert."""

    route: int | None  # index of the first matching route in `routes`, None for the default
    drop: bool = False
    service: str | None = None
    team: str | None = None
    incident_type: str | None = None
    severity: str | None = None  # a configured SEV-n
    title: str | None = None  # rendered title template, if the route has one
    group_by: tuple[str, ...] | None = None  # labels whose values group alerts together
    auto_mitigate: bool = False
    heartbeat: str | None = None  # the alert is a ping of this heartbeat, not an incident

    @property
    def stored(self) -> bool:
        """Tell whether the alert is kept as an alert (neither dropped nor a ping)."""
        return not self.drop and self.heartbeat is None


@dataclass
class IngestResult:
    """What one delivery did, returned to the sender and counted in metrics."""

    source: str = ""
    accepted: int = 0
    new: int = 0
    repeated: int = 0
    resolved: int = 0
    silenced: int = 0
    dropped: int = 0
    ignored: int = 0
    pinged: int = 0  # alerts a route turned into heartbeat pings
    opened: list[int] = field(default_factory=list)  # incident numbers opened
    touched: list[int] = field(default_factory=list)  # incident numbers changed in any way
    ended: list[int] = field(default_factory=list)  # incident numbers a heartbeat ping resolved
    # (incident number, severity, inside the window) of mitigated incidents an alert re-opened
    refired: list[tuple[int, str, bool]] = field(default_factory=list)

    linked: list[int] = field(default_factory=list)  # incidents this delivery's alerts are in
    duplicate: bool = False  # a delivery id seen before: a replay or a retry, nothing done

    def touch(self, number: int) -> None:
        """Remember an incident whose runbook file must be rewritten."""
        self.link(number)
        if number not in self.touched:
            self.touched.append(number)

    def link(self, number: int) -> None:
        """Remember an incident the delivery's alerts belong to (for the sender's answer)."""
        if number not in self.linked:
            self.linked.append(number)
