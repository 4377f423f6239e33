"""Text messages and voice calls through Twilio's REST API, with the `twilio` SDK.

The SDK's own HTTP client is kept (its auth, form encoding, user agent and error parsing);
a subclass only moves every request to `integrations.twilio.api_url`, so that a loopback
server of ours stands in for api.twilio.com in tests. Twilio's API has no idempotency key:
a send whose answer was lost is sent again (the outbox's retry), which can mean a second
text; that is the better failure for a page.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException  # type: ignore[import-untyped]
from twilio.http.http_client import TwilioHttpClient  # type: ignore[import-untyped]
from twilio.http.response import Response  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from warroom.core.urls import LOOPBACK
from warroom.notify.ports import DeliveryError
from warroom.notify.twilio_config import TwilioConfig

log = logging.getLogger("warroom.notify")
# The SDK logs each request's URL and headers at INFO; warroom's own lines are enough.
_sdk_log = logging.getLogger("warroom.notify.twilio_sdk")
_sdk_log.setLevel(logging.WARNING)

PRESS = " Press 1 to acknowledge."
CALL_EVENTS = ["completed"]  # Twilio then reports the final CallStatus (busy, no-answer…)
MAX_SMS = 1600  # characters: Twilio refuses a longer body (error 21617)
# Phone numbers in Twilio's own error messages ("The 'To' number +1555… is not valid").
NUMBER = re.compile(r"\+?\d[\d ()-]{5,}\d")
# "Call is not in-progress": it ended before the hang-up (answered, or never picked up).
CALL_NOT_IN_PROGRESS = 21220


def mask(number: str) -> str:
    """Return a phone number as logs may show it: all but the last four digits hidden."""
    digits = number.strip()
    return "…" + digits[-4:] if len(digits) > 4 else "…"


def scrub(text: str) -> str:
    """Mask every phone number in a text (Twilio's error messages quote them)."""
    return NUMBER.sub(lambda found: mask(re.sub(r"\D", "", found.group())), text)


class RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's HTTP client, sending every request to `api_url` instead of twilio.com."""

    def __init__(self, api_url: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_sdk_log)
        self._base = urlsplit(api_url)
        self._local = threading.local()  # the Retry-After of this thread's last answer
        if self.session is not None and self._base.hostname in LOOPBACK:
            self.session.trust_env = False  # a loopback server is never behind a proxy

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send the request to the configured host, keeping Twilio's path and query."""
        parts = urlsplit(url)
        path = self._base.path.rstrip("/") + parts.path
        moved = urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))
        self._local.retry_after = None
        response = super().request(
            method,
            moved,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        if response.status_code == 429:
            self._local.retry_after = (response.headers or {}).get("Retry-After")
        return response

    def last_retry_after(self) -> float | None:
        """Return the Retry-After (seconds) of this thread's last answer, if it was a 429."""
        value = getattr(self._local, "retry_after", None)
        try:
            return max(0.0, float(value)) if value else None
        except ValueError:  # an HTTP date: the outbox's own backoff will do
            return None

    def close(self) -> None:
        """Close the connection pool."""
        if self.session is not None:
            self.session.close()


class TwilioPhone:
    """Send pages by SMS and voice call through one Twilio account."""

    def __init__(self, config: TwilioConfig) -> None:
        self.config = config
        self.http = RebasedHttpClient(config.api_url, timeout=config.timeout)
        self.client = Client(
            config.account_sid,
            config.auth_token.get_secret_value(),
            http_client=self.http,
            # Not os.environ: the SDK would take TWILIO_EDGE / TWILIO_REGION from there.
            environment={"WARROOM": "1"},
        )

    def send_sms(self, *, to: str, body: str, key: str, status_callback: str | None) -> str:
        """Send one text message; return its SID (SM…)."""
        if len(body) > MAX_SMS:  # a long bundle: the end is cut rather than the page refused
            body = body[: MAX_SMS - 1] + "…"
        fields: dict[str, Any] = {"to": to, "body": body}
        if self.config.messaging_service_sid:
            fields["messaging_service_sid"] = self.config.messaging_service_sid
        else:
            fields["from_"] = self.config.from_
        if status_callback:
            fields["status_callback"] = status_callback
        message = self._call(lambda: self.client.messages.create(**fields), "SMS", to)
        log.info("Twilio took SMS %s to %s (%s)", message.sid, mask(to), key)
        return str(message.sid)

    def call(
        self, *, to: str, text: str, gather_url: str | None, key: str, status_callback: str | None
    ) -> str:
        """Place a call that reads `text` and asks to press 1; return its SID (CA…)."""
        if not self.config.from_:
            raise DeliveryError(
                "voice calls need integrations.twilio.from (a Twilio number): a messaging "
                "service cannot place calls",
                permanent=True,
            )
        fields: dict[str, Any] = {
            "to": to,
            "from_": self.config.from_,
            "twiml": str(self.twiml(text, gather_url)),
        }
        if status_callback:
            fields["status_callback"] = status_callback
            fields["status_callback_event"] = CALL_EVENTS
            fields["status_callback_method"] = "POST"
        call = self._call(lambda: self.client.calls.create(**fields), "call", to)
        log.info("Twilio placing call %s to %s (%s)", call.sid, mask(to), key)
        return str(call.sid)

    def twiml(self, text: str, gather_url: str | None) -> VoiceResponse:
        """Return what the call does: read the page, ask for 1 (twice), then say goodbye."""
        response = VoiceResponse()
        if gather_url and "://" not in gather_url:
            gather_url = None  # relative (no notifications.base_url): Twilio could not post it
        spoken = text + (PRESS if gather_url else "")
        for _ in range(2):  # a second chance when the first reading got no key press
            if gather_url:
                gather = response.gather(num_digits=1, action=gather_url, method="POST")
                gather.say(spoken, voice=self.config.voice, language=self.config.language)
            else:
                response.say(spoken, voice=self.config.voice, language=self.config.language)
        response.say("Goodbye.", voice=self.config.voice, language=self.config.language)
        return response

    def hang_up(self, *, call_id: str) -> None:
        """End a call still ringing or in progress; one that has ended already is fine."""
        try:
            self._call(lambda: self.client.calls(call_id).update(status="completed"), "hang-up")
        except DeliveryError as exc:
            if f"error {CALL_NOT_IN_PROGRESS}" not in str(exc):
                raise

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    def _call(self, send: Any, what: str, to: str | None = None) -> Any:
        """Run one SDK request; map its failures to DeliveryError (never quoting a secret)."""
        whom = f" to {mask(to)}" if to else ""
        try:
            return send()
        except TwilioRestException as exc:
            raise self._refusal(exc.status, exc.code, _message(exc.msg), what, whom) from None
        except TwilioServiceException as exc:
            said = exc.detail or exc.title
            raise self._refusal(exc.status, exc.code, said, what, whom) from None
        except requests.Timeout:
            raise DeliveryError(
                f"Twilio did not answer the {what}{whom} within {self.config.timeout:g} s"
            ) from None
        except requests.RequestException as exc:
            # The exception's text quotes the URL: name its type only.
            raise DeliveryError(f"could not reach Twilio ({type(exc).__name__})") from None

    def _refusal(
        self, status: int, code: int | None, said: str, what: str, whom: str
    ) -> DeliveryError:
        """Map one Twilio error answer: 429 and 5xx are retried, other refusals are final."""
        reason = f"Twilio refused the {what}{whom}: error {code}: {scrub(said)}"[:500]
        if status == 429:
            return DeliveryError(reason, retry_after=self.http.last_retry_after())
        if status >= 500:
            return DeliveryError(f"Twilio answered HTTP {status} to the {what}{whom}")
        return DeliveryError(reason, permanent=True)


def _message(text: str) -> str:
    """Return Twilio's own words, without the SDK's "Unable to create record: " prefix."""
    return text.split(": ", 1)[1] if text.startswith("Unable to ") and ": " in text else text
