"""Outgoing webhooks: incident events POSTed as JSON, signed with HMAC-SHA256 like Stripe and Slack.

The receiver gets `X-Warroom-Timestamp: <unix seconds>` and
`X-Warroom-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`; signing the timestamp with
the body lets it refuse a replayed request, and `Idempotency-Key` (also the body's `id`) lets it
drop a message the outbox sent twice after a crash. `verify()` is the receiver's side.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from warroom import __version__
from warroom.core.clock import Clock, SystemClock
from warroom.core.urls import LOOPBACK
from warroom.notify.ports import DeliveryError
from warroom.notify.webhook_config import (
    WebhookConfig,
)

log = logging.getLogger("warroom.notify")

SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = 300  # seconds; the window Stripe and Slack use against replays


"""The type of `integrations.outgoing_webhooks`: a list whose names are unique."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header value for `body` sent at `timestamp`."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    now: float | datetime,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Return whether `signature` signs `body` at `timestamp`, and the timestamp is recent."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = now.timestamp() if isinstance(now, datetime) else float(now)
    if abs(current - sent) > tolerance:
        return False  # too old (a replay) or from a clock far ahead
    expected = sign(secret, sent, body)
    # Several `v1=` values may be sent while a secret is rotated; any one may match.
    candidates = [part.strip() for part in signature.split(",")]
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), expected.encode())
    return matched


def origin(url: str) -> str:
    """Return scheme://host[:port] of `url`; its path or query may carry a token, so log this."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def status_error(status: int, where: str, retry_after: str | None = None) -> DeliveryError:
    """Map an HTTP error status to a DeliveryError: a refusal is permanent, a hiccup is not."""
    temporary = status >= 500 or status in (408, 429)
    wait = f", Retry-After {retry_after}" if retry_after and temporary else ""
    return DeliveryError(f"{where} answered HTTP {status}{wait}", permanent=not temporary)


def transport_error(exc: httpx.TransportError, where: str, timeout: float) -> DeliveryError:
    """Map a timeout or connection failure to a temporary DeliveryError."""
    if isinstance(exc, httpx.TimeoutException):
        return DeliveryError(f"{where} did not answer within {timeout:g} s")
    # The exception's own text can quote the URL (and a token in it): name its type only.
    return DeliveryError(f"could not reach {where} ({type(exc).__name__})")


class SignedWebhook:
    """Sends signed webhooks; `endpoints` supply each configured URL's timeout."""

    def __init__(
        self,
        endpoints: Sequence[WebhookConfig] = (),
        *,
        timeout: float = 10.0,
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._timeouts = {e.url: e.timeout for e in endpoints}
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._transport = transport
        self._clients: dict[bool, httpx.Client] = {}
        self._lock = threading.Lock()

    def _client(self, url: str) -> httpx.Client:
        """Return the pool for `url`: a loopback receiver is never reached through a proxy."""
        loopback = urlsplit(url).hostname in LOOPBACK
        with self._lock:
            client = self._clients.get(loopback)
            if client is None:
                # Redirects are not followed: a receiver that moved should be reconfigured,
                # and a redirect would carry the signed body to a host nobody configured.
                client = httpx.Client(
                    headers={"User-Agent": f"warroom/{__version__}"},
                    transport=self._transport,
                    follow_redirects=False,
                    trust_env=not loopback,
                )
                self._clients[loopback] = client
            return client

    def close(self) -> None:
        """Close the connection pools."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()

    def __enter__(self) -> SignedWebhook:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def post(self, *, url: str, secret: str, event: str, body: dict[str, Any], key: str) -> int:
        """POST the event; return the receiver's HTTP status (2xx)."""
        where = origin(url)
        now = self._clock.now()
        timestamp = int(now.timestamp())
        envelope = {
            "event": event,
            "id": key,
            "sent_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "data": body,
        }
        try:
            raw = orjson.dumps(envelope, default=str, option=orjson.OPT_NON_STR_KEYS)
        except TypeError as exc:
            raise DeliveryError(f"event {event} is not JSON: {exc}", permanent=True) from None
        headers = {
            "Content-Type": "application/json",
            "X-Warroom-Event": event,
            "Idempotency-Key": key,
            "X-Warroom-Timestamp": str(timestamp),
            "X-Warroom-Signature": sign(secret, timestamp, raw),
        }
        timeout = self._timeouts.get(url, self._timeout)
        try:
            response = self._client(url).post(url, content=raw, headers=headers, timeout=timeout)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise DeliveryError(f"invalid webhook URL for {where}", permanent=True) from None
        except httpx.TransportError as exc:
            raise transport_error(exc, where, timeout) from None
        if 200 <= response.status_code < 300:
            log.debug("webhook %s delivered to %s", event, where)
            return response.status_code
        if response.status_code == 410:
            # 410 Gone is a receiver saying "stop sending"; the outbox must not retry.
            raise DeliveryError(f"{where} answered HTTP 410 Gone", permanent=True)
        raise status_error(response.status_code, where, response.headers.get("Retry-After"))
