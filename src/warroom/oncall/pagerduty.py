"""PagerDuty as an on-call source: who is on call, read from PagerDuty's REST API `GET /oncalls`.

Wire format, as PagerDuty documents it (developer-docs REST-API/02-Authentication, 03-Versioning,
09-Pagination, 13-Includes, 14-Errors; api-schema reference/REST/openapiv3.json, `listOnCalls`):
- host https://api.pagerduty.com, HTTPS only; `Authorization: Token token=<key>` (a 401 otherwise)
  and `Accept: application/vnd.pagerduty+json;version=2` (pins the API version);
- query `schedule_ids[]`, `escalation_policy_ids[]`, `user_ids[]` (repeated keys), `since` and
  `until` (ISO 8601, default now; an on-call overlapping the range is listed; at most 3 months),
  `earliest` (one entry per policy, level and user), `time_zone` (default UTC), `include[]`;
- classic pagination: `limit` (default 25, at most 100), `offset` (offset + limit <= 10000),
  and the answer echoes `limit`/`offset` with `more` (true while entries remain) and `total`;
- answer `{"oncalls": [{user, schedule (null for a direct user target), escalation_policy,
  escalation_level, start, end}], ...}`; `user` is a `user_reference` (id, summary, no email)
  unless `include[]=users` expands it to the full user (adds `email`, `name`), so we ask for it;
- errors are `{"error": {"message", "code", "errors"?}}` with a 4xx/5xx status.
We do not send `escalation_policy_ids[]` or `earliest`: warroom layers map to schedules, and it
asks about one instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import (
    BaseModel,
    ValidationError,
)

from warroom.core.errors import WarroomError
from warroom.core.urls import LOOPBACK
from warroom.oncall.pagerduty_config import (
    PagerDutyOnCallConfig,
)

ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE_LIMIT = 100  # PagerDuty's maximum page size
MAX_RECORDS = 10_000  # PagerDuty refuses offset + limit beyond this


class PagerDutyError(WarroomError):
    """PagerDuty could not be asked, or answered with an error."""

    code = "pagerduty_unavailable"
    status = 502


class _User(BaseModel):
    id: str
    summary: str | None = None
    name: str | None = None
    email: str | None = None


class _Ref(BaseModel):
    id: str


class _OnCall(BaseModel):
    user: _User
    schedule: _Ref | None = None
    start: datetime | None = None  # null: a permanent on-call
    end: datetime | None = None  # null: never goes off call


class _Page(BaseModel):
    oncalls: list[_OnCall]
    more: bool = False


def _stamp(moment: datetime) -> str:
    """Return an ISO 8601 UTC time like 2026-03-02T09:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PagerDutyOnCall:
    """Asks PagerDuty who is on call; one `/oncalls` query (paged) per lookup."""

    def __init__(
        self, config: PagerDutyOnCallConfig, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.config = config
        headers = {
            "Authorization": f"Token token={config.api_key.get_secret_value()}",
            "Accept": ACCEPT,
            "User-Agent": "warroom",
        }
        # A loopback base URL (tests, a local stub) must never be sent through a proxy.
        loopback = urlsplit(config.base_url).hostname in LOOPBACK
        self._http = httpx.Client(
            base_url=config.base_url,
            headers=headers,
            timeout=config.timeout_seconds,
            transport=transport,
            trust_env=not loopback,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> PagerDutyOnCall:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def on_call(
        self, at: datetime, layer_schedule_ids: Mapping[str, list[str]]
    ) -> dict[str, list[str]]:
        """Return layer -> people on call at `at`, each layer read from its PagerDuty schedules."""
        wanted = sorted({pd for ids in layer_schedule_ids.values() for pd in ids})
        entries = self._fetch(at, wanted) if wanted else []  # no filter would list every on-call
        return self._layers(at, entries, layer_schedule_ids)

    def schedules_on_call(
        self, at: datetime, schedule_ids: list[str] | None = None
    ) -> dict[str, dict[str, list[str]]]:
        """Return warroom schedule -> layer -> people for configured schedules, in one query."""
        chosen = {
            s: m.pagerduty_schedule_ids
            for s, m in self.config.schedules.items()
            if schedule_ids is None or s in schedule_ids
        }
        wanted = sorted({pd for layers in chosen.values() for ids in layers.values() for pd in ids})
        entries = self._fetch(at, wanted) if wanted else []
        return {s: self._layers(at, entries, layers) for s, layers in chosen.items()}

    def _person(self, user: _User) -> str:
        """Return the warroom person for a PagerDuty user, else PagerDuty's name for them."""
        found = self.config.people.get(user.id)
        if found is None and user.email:
            found = self.config.people.get(user.email.lower())
        return found or user.summary or user.name or user.id

    def _layers(
        self, at: datetime, entries: list[_OnCall], layer_schedule_ids: Mapping[str, list[str]]
    ) -> dict[str, list[str]]:
        """Group the entries in force at `at` by layer, each person once, in PagerDuty's order."""
        result: dict[str, list[str]] = {layer: [] for layer in layer_schedule_ids}
        for entry in entries:
            if entry.schedule is None:
                continue  # a user named directly in an escalation policy belongs to no layer
            if entry.start is not None and entry.start > at:
                continue
            if entry.end is not None and entry.end <= at:
                continue
            person = self._person(entry.user)
            for layer, ids in layer_schedule_ids.items():
                if entry.schedule.id in ids and person not in result[layer]:
                    result[layer].append(person)
        return result

    def _fetch(self, at: datetime, schedule_ids: list[str]) -> list[_OnCall]:
        """Return every on-call entry of these schedules around `at`, following `more`."""
        if at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware")
        params: dict[str, Any] = {
            "schedule_ids[]": schedule_ids,
            "since": _stamp(at),
            # A one-second window: PagerDuty lists on-calls overlapping it; _layers keeps `at`.
            "until": _stamp(at + timedelta(seconds=1)),
            "time_zone": "UTC",
            "include[]": "users",
            "limit": PAGE_LIMIT,
        }
        entries: list[_OnCall] = []
        offset = 0
        while True:
            page = self._get({**params, "offset": offset})
            entries += page.oncalls
            offset += len(page.oncalls)
            if not page.more:
                return entries
            if not page.oncalls or offset >= MAX_RECORDS:
                raise PagerDutyError(f"PagerDuty kept saying `more` after {offset} on-calls")

    def _get(self, params: dict[str, Any]) -> _Page:
        """Send one GET /oncalls and decode it, or raise PagerDutyError."""
        where = f"{self.config.base_url}/oncalls"
        try:
            response = self._http.get("/oncalls", params=params)
        except httpx.TimeoutException:
            raise PagerDutyError(
                f"PagerDuty did not answer within {self.config.timeout_seconds:g}s ({where})"
            ) from None
        except httpx.HTTPError as exc:
            raise PagerDutyError(f"cannot reach PagerDuty at {where}: {exc}") from None
        if not response.is_success:
            raise PagerDutyError(
                f"PagerDuty answered HTTP {response.status_code}: {_error_message(response)}",
                {"status": response.status_code},
            )
        try:
            return _Page.model_validate_json(response.content)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "body"
            raise PagerDutyError(
                f"PagerDuty's answer is not an on-call list ({field}: {first['msg']})"
            ) from None


def _error_message(response: httpx.Response) -> str:
    """Return PagerDuty's `error.message` (and details), or the start of the body."""
    try:
        error = response.json()["error"]
        details = "; ".join(str(e) for e in error.get("errors") or [])
        return str(error["message"]) + (f" ({details})" if details else "")
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason_phrase
