"""A loopback stand-in for Twilio's REST API (2010-04-01) and for Twilio calling warroom back.

As api.twilio.com does, it takes form-encoded POSTs to `/2010-04-01/Accounts/{AccountSid}/
Messages.json`, `/Calls.json` and `/Calls/{CallSid}.json` under HTTP Basic auth (account SID
and auth token), answers 201 with a JSON resource (`sid` SM…/CA…, 34 characters, `status`
queued) and refuses bad requests with Twilio's error body `{code, message, more_info,
status}` (21211 for a `To` that is not a phone number, 21602 without a body, 21603 without a
sender, 21205 for a call with nothing to do, 20003 for wrong credentials, 20404 for an unknown
call, 21220 to hang up a call that has ended).

`.fail()`, `.hang()` and `.recover()` come from `LoopbackServer`; `.refuse(code, message)`
answers the next requests with a Twilio error. `status`, `reply` and `press` play Twilio's
part in the other direction: form posts to warroom signed with `X-Twilio-Signature`, computed
by the SDK's own `RequestValidator`.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from twilio.request_validator import RequestValidator

from tests.notify.webhook_receiver import Answer, LoopbackServer, json_answer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-0123456789abcd"
FROM = "+15005550006"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
ROUTE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-f]{32})/(?P<rest>[A-Za-z0-9/]+)\.json$"
)


def sid(prefix: str) -> str:
    """Return a new SID as Twilio writes them: two letters and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def error(status: int, code: int, message: str) -> Answer:
    """Return Twilio's error answer."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return json_answer(status, body)


@dataclass
class Refusal:
    """A Twilio error to answer the next `times` requests with."""

    status: int
    code: int
    message: str
    times: int


class TwilioServer(LoopbackServer):
    """Twilio's Messages and Calls resources on 127.0.0.1, recording every request."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[tuple[str, str, dict[str, str], dict[str, list[str]]]] = []
        self.messages: list[dict[str, Any]] = []  # accepted SMS: the form, one value a field
        self.calls: list[dict[str, Any]] = []  # accepted calls, likewise
        self.call_state: dict[str, str] = {}  # CallSid -> queued | completed
        self.hung_up: list[str] = []
        self._refusal: Refusal | None = None
        self._calls_lock = threading.Lock()

    def __enter__(self) -> TwilioServer:
        self.start()
        return self

    @property
    def url(self) -> str:
        """The api_url to configure."""
        return self.base_url

    def config(self, **extra: Any) -> dict[str, Any]:
        """Return `integrations.twilio` for warroom.yaml, pointing at this server."""
        return {
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "from": FROM,
            "api_url": self.url,
            # Long enough for this loopback server under the whole suite on 2 cores (a test
            # that wants a timeout sets its own).
            "timeout": 10,
            **extra,
        }

    # -- failures ---------------------------------------------------------------------------

    def refuse(self, code: int, message: str, *, times: int = 1, status: int = 400) -> None:
        """Answer the next `times` requests with Twilio's error `code`."""
        with self._lock:
            self._refusal = Refusal(status, code, message, times)

    def failure(self, status: int) -> Answer:
        """Twilio's error body for an injected 429 or 5xx."""
        if status == 429:
            return error(429, 20429, "Too Many Requests")
        return error(status, 20500, "An internal server error has occurred")

    # -- the REST API -----------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """Check the credentials, then create or update the resource."""
        form = parse_qs(body.decode(), keep_blank_values=True)
        with self._lock:
            self.requests.append((method, path, headers, form))
            refusal = self._refusal
            if refusal is not None:
                refusal.times -= 1
                if refusal.times <= 0:
                    self._refusal = None
        if not self._authorized(headers.get("authorization", "")):
            return error(401, 20003, "Authenticate")
        found = ROUTE.match(path.split("?", 1)[0])
        if method != "POST" or found is None or found["account"] != self.account_sid:
            return error(404, 20404, f"The requested resource {path} was not found")
        if refusal is not None:
            return error(refusal.status, refusal.code, refusal.message)
        one = {name: values[-1] for name, values in form.items()}
        rest = found["rest"]
        if rest == "Messages":
            return self._message(one)
        if rest == "Calls":
            return self._call(one, form)
        if rest.startswith("Calls/"):
            return self._update_call(rest.removeprefix("Calls/"), one)
        return error(404, 20404, f"The requested resource {path} was not found")

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _message(self, form: dict[str, str]) -> Answer:
        to = form.get("To", "")
        if not E164.match(to):
            return error(400, 21211, f"Invalid 'To' Phone Number: {to[:4]}XXXX")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return error(400, 21602, "Message body is required.")
        message = {"sid": sid("SM"), **form}
        with self._lock:
            self.messages.append(message)
        return json_answer(201, self._resource(message["sid"], form, "Messages", body=form["Body"]))

    def _call(self, one: dict[str, str], form: dict[str, list[str]]) -> Answer:
        to = one.get("To", "")
        if not E164.match(to):
            return error(400, 21211, f"Invalid 'To' Phone Number: {to[:4]}XXXX")
        if not one.get("From"):
            return error(400, 21213, "No 'From' number is specified")
        if not (one.get("Url") or one.get("Twiml") or one.get("ApplicationSid")):
            return error(400, 21205, "Url parameter is required.")
        call = {"sid": sid("CA"), **one, "StatusCallbackEvent": form.get("StatusCallbackEvent")}
        with self._lock:
            self.calls.append(call)
            self.call_state[call["sid"]] = "queued"
        return json_answer(201, self._resource(call["sid"], one, "Calls"))

    def _update_call(self, call_sid: str, form: dict[str, str]) -> Answer:
        with self._lock:
            state = self.call_state.get(call_sid)
            if state is None:
                return error(404, 20404, f"The requested resource Calls/{call_sid} was not found")
            if state == "completed":
                return error(400, 21220, "Call is not in-progress. Cannot redirect.")
            if form.get("Status") in ("completed", "canceled"):
                self.call_state[call_sid] = "completed"
                self.hung_up.append(call_sid)
        return json_answer(200, self._resource(call_sid, form, "Calls", status="completed"))

    def _resource(
        self, resource_sid: str, form: dict[str, str], kind: str, **extra: Any
    ) -> dict[str, Any]:
        return {
            "sid": resource_sid,
            "account_sid": self.account_sid,
            "to": form.get("To"),
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "status": "queued",
            "date_created": "Mon, 02 Mar 2026 09:00:00 +0000",
            "api_version": "2010-04-01",
            "error_code": None,
            "error_message": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{resource_sid}.json",
            **extra,
        }

    # -- Twilio calling warroom back --------------------------------------------------------

    def signature(self, url: str, params: dict[str, str]) -> str:
        """Return the X-Twilio-Signature Twilio would send with this request."""
        return str(RequestValidator(self.auth_token).compute_signature(url, params))

    def post_signed(
        self,
        url: str,
        params: dict[str, str],
        *,
        signature: str | None = "",
        client: Any = None,
    ) -> httpx.Response:
        """POST a form to warroom as Twilio does (signature "": the right one; None: none).

        With `client` (a TestClient) the form goes to the URL's path and query only: the
        request's Host is then `testserver`, not the host Twilio signed.
        """
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature or self.signature(url, params)
        if client is not None:
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            answer: httpx.Response = client.post(target, content=urlencode(params), headers=headers)
            return answer
        return httpx.post(url, content=urlencode(params), headers=headers, timeout=10)

    def status(
        self,
        url: str,
        resource_sid: str,
        status: str,
        kind: str = "sms",
        *,
        error_code: str | None = None,
        to: str = "+15551230001",
        client: Any = None,
    ) -> httpx.Response:
        """Report a message's or a call's status, as Twilio's StatusCallback does."""
        params = {
            "AccountSid": self.account_sid,
            "To": to,
            "From": FROM,
            "ApiVersion": "2010-04-01",
        }
        if kind == "sms":
            params |= {"MessageSid": resource_sid, "SmsSid": resource_sid}
            params |= {"MessageStatus": status, "SmsStatus": status}
        else:
            params |= {"CallSid": resource_sid, "CallStatus": status, "Direction": "outbound-api"}
        if error_code:
            params["ErrorCode"] = error_code
        return self.post_signed(url, params, client=client)

    def reply(
        self,
        url: str,
        from_: str,
        body: str,
        *,
        to: str = FROM,
        signature: str | None = "",
        client: Any = None,
    ) -> httpx.Response:
        """Deliver an incoming SMS to warroom, as the number's messaging webhook does."""
        message = sid("SM")
        params = {
            "ToCountry": "US",
            "SmsMessageSid": message,
            "NumMedia": "0",
            "SmsSid": message,
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": "1",
            "MessageSid": message,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        return self.post_signed(url, params, signature=signature, client=client)

    def press(
        self,
        gather_url: str,
        digits: str,
        call_sid: str,
        *,
        to: str = "+15551230001",
        from_: str = FROM,
        signature: str | None = "",
        client: Any = None,
    ) -> httpx.Response:
        """Send a Gather's key presses to its action URL, as a call does."""
        params = {
            "AccountSid": self.account_sid,
            "CallSid": call_sid,
            "CallStatus": "in-progress",
            "Digits": digits,
            "Direction": "outbound-api",
            "From": from_,
            "To": to,
            "FinishedOnKey": "",
            "ApiVersion": "2010-04-01",
        }
        return self.post_signed(gather_url, params, signature=signature, client=client)


ALICE = "+15551230001"
BOB = "+15551230002"


def paging_config(twilio: TwilioServer, base_url: str, **notifications: Any) -> dict[str, Any]:
    """Return warroom.yaml where alice (primary) has "SMS at 0m, voice at 2m" and bob is
    secondary by SMS, through this Twilio, with warroom public at `base_url`."""
    return {
        "people": [
            {
                "id": "alice",
                "name": "Alice",
                "contact_methods": [
                    {"id": "mobile", "type": "sms", "to": ALICE},
                    {"id": "phone", "type": "voice", "to": ALICE},
                ],
                "notification_rules": [
                    {"after": "0m", "via": ["mobile"]},
                    {"after": "2m", "via": ["phone"]},
                ],
            },
            {
                "id": "bob",
                "name": "Bob",
                "contact_methods": [{"id": "mobile", "type": "sms", "to": BOB}],
                "notification_rules": [{"after": "0m", "via": ["mobile"]}],
            },
        ],
        "teams": [{"id": "payments", "members": ["alice", "bob"], "leads": ["bob"]}],
        "schedules": [
            {
                "id": "payments",
                "timezone": "UTC",
                "layers": [
                    {"name": "primary", "rotation": {"every": "1w", "participants": ["alice"]}},
                    {"name": "secondary", "rotation": {"every": "1w", "participants": ["bob"]}},
                ],
            }
        ],
        "services": [{"id": "checkout", "team": "payments", "schedule": "payments"}],
        "integrations": {"twilio": twilio.config()},
        "notifications": {"base_url": base_url, **notifications},
    }
