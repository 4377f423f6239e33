"""Zoom meetings for incidents (`integrations.zoom`), over Server-to-Server OAuth with httpx.

A token is fetched with the account credentials, cached until shortly before it expires and
shared by every sender thread; a 401 from the API (token revoked or expired early) fetches a
new one once. Zoom has no idempotency key for meetings, so a key's meeting is remembered in
this process and the key is written into the meeting's agenda, where a duplicate made after a
crash can be recognised.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import HttpUrl

from warroom.notify.ports import DeliveryError, Meeting
from warroom.notify.zoom_config import ZoomConfig

_EARLY = 60.0  # seconds before expiry at which a cached token is replaced
_REMEMBERED = 1024  # meetings remembered by key, for retries of a call that succeeded


class ZoomConference:
    """A `Conference` that creates Zoom meetings."""

    def __init__(
        self,
        config: ZoomConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._monotonic = monotonic  # token lifetimes are real elapsed time, not the clock
        self._client = httpx.Client(
            timeout=config.timeout,
            transport=transport,
            headers={"User-Agent": "warroom"},
            follow_redirects=False,
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._meetings: OrderedDict[str, Meeting] = OrderedDict()

    def create_meeting(self, *, topic: str, key: str) -> Meeting:
        """Create a meeting that starts now."""
        with self._lock:
            known = self._meetings.get(key)
        if known is not None:
            return known
        body: dict[str, Any] = {
            "topic": " ".join(topic.split())[:200] or "Incident",  # Zoom's limit is 200
            "type": 1 if self.config.meeting_type == "instant" else 2,
            "agenda": f"warroom key {key}",
            "settings": {"join_before_host": True, "waiting_room": False},
        }
        url = f"{_base(self.config.api_url)}/v2/users/{self.config.user}/meetings"
        token = self._access_token()
        response = self._call("create meeting", "POST", url, token=token, json=body)
        if response.status_code == 401:
            # The token was revoked or expired before we expected: fetch one more, once.
            token = self._access_token(stale=token)
            response = self._call("create meeting", "POST", url, token=token, json=body)
        self._raise_for_status("create meeting", response)
        meeting = _meeting(response)
        with self._lock:
            self._meetings[key] = meeting
            while len(self._meetings) > _REMEMBERED:
                self._meetings.popitem(last=False)
        return meeting

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    def _access_token(self, *, stale: str | None = None) -> str:
        """Return a valid token, fetching one if none is cached or `stale` was refused."""
        with self._lock:  # one fetch at a time; other threads wait and reuse it
            now = self._monotonic()
            fresh = self._token is not None and self._token != stale and now < self._expires_at
            if fresh and self._token is not None:
                return self._token
            token, lifetime = self._fetch_token()
            self._token = token
            self._expires_at = now + max(lifetime - min(_EARLY, lifetime / 2), 0.0)
            return token

    def _fetch_token(self) -> tuple[str, float]:
        config = self.config
        response = self._call(
            "token request",
            "POST",
            f"{_base(config.oauth_url)}/oauth/token",
            params={
                "grant_type": "account_credentials",
                "account_id": config.account_id.get_secret_value(),
            },
            auth=(config.client_id.get_secret_value(), config.client_secret.get_secret_value()),
        )
        if response.status_code in (400, 401, 403):
            # Zoom answers bad credentials with 400 invalid_client: no retry will fix them.
            raise DeliveryError(
                self._scrub(
                    f"zoom token request refused: HTTP {response.status_code} {_reason(response)}"
                ),
                permanent=True,
            )
        self._raise_for_status("token request", response)
        try:
            payload = response.json()
            token = payload["access_token"]
            lifetime = float(payload.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise DeliveryError("zoom token request: answer has no access_token") from None
        if not isinstance(token, str) or not token:
            raise DeliveryError("zoom token request: answer has no access_token")
        return token, lifetime

    def _call(
        self, what: str, method: str, url: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        try:
            return self._client.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise DeliveryError(f"zoom {what} timed out after {self.config.timeout:g}s") from None
        except httpx.HTTPError as exc:
            # The request's URL may hold the account id, so only the error's kind is told.
            raise DeliveryError(f"zoom {what} failed: {type(exc).__name__}") from None

    def _raise_for_status(self, what: str, response: httpx.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        message = f"zoom {what}: HTTP {status} {_reason(response)}"
        if status == 429 and "Retry-After" in response.headers:
            message += f" (retry after {response.headers['Retry-After'][:20]}s)"
        permanent = 400 <= status < 500 and status not in (408, 429)
        raise DeliveryError(self._scrub(message), permanent=permanent)

    def _scrub(self, text: str) -> str:
        """Blank the credentials out of text that came back from Zoom, should it echo them."""
        config = self.config
        for secret in (config.client_secret, config.client_id, config.account_id):
            text = text.replace(secret.get_secret_value(), "***")
        return text


def _reason(response: httpx.Response) -> str:
    """Return Zoom's own words about an error (`message` or `reason`), one line, short."""
    try:
        payload = response.json()
    except ValueError:
        return response.reason_phrase
    if not isinstance(payload, dict):
        return response.reason_phrase
    code = payload.get("code") or payload.get("error")
    text = payload.get("message") or payload.get("reason") or response.reason_phrase
    words = " ".join(str(text).split())[:200]
    return f"{code}: {words}" if code else words


def _meeting(response: httpx.Response) -> Meeting:
    try:
        payload = response.json()
        meeting_id, join_url = payload["id"], payload["join_url"]
    except (ValueError, KeyError, TypeError):
        # The meeting may exist; retrying would make another, so do not retry.
        raise DeliveryError(
            "zoom create meeting: answer has no id or join_url", permanent=True
        ) from None
    if not isinstance(join_url, str) or not join_url.startswith("https://"):
        raise DeliveryError("zoom create meeting: join_url is not an https link", permanent=True)
    return Meeting(id=str(meeting_id), join_url=join_url)


def _base(url: HttpUrl) -> str:
    return str(url).rstrip("/")
