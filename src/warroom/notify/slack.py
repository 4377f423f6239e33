"""Slack through slack_sdk's WebClient: incident channels, invitations, cards and modals."""

from __future__ import annotations

import http.client
import logging
import re
import ssl
import threading
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Any, cast
from urllib.error import URLError
from urllib.parse import urljoin, urlsplit
from urllib.request import Request

import orjson
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from warroom.notify.ports import DeliveryError, IncidentCard, retry_seconds
from warroom.notify.slack_blocks import card_blocks, escape
from warroom.notify.slack_config import SlackConfig

log = logging.getLogger("warroom.notify.slack")
# slack_sdk's debug lines quote whole requests and answers (incident titles, restricted ones
# too): keep them out of the logs. It tests its logger's own level, not the effective one,
# so setting it also spares formatting them on every call.
_SDK_LOG = logging.getLogger("warroom.notify.slack.sdk")
_SDK_LOG.setLevel(logging.INFO)

NAME_LIMIT = 80  # Slack's longest channel name
_NAME = re.compile(r"[a-z0-9_-]{1,80}")
# Slack answers these with HTTP 200 and ok=false, yet they are on Slack's side and pass.
_TEMPORARY = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
_BENIGN_INVITE = {"already_in_channel", "cant_invite_self"}
# How slack_sdk words an answer that is not JSON (an HTML error page from Slack's edge).
NOT_JSON = "Received a response in a non-JSON format"
_MAX_LIST_PAGES = 200  # 40 000 channels at 200 a page: a runaway cursor stops here
# Where Slack's response_urls point (commercial and GovSlack).
_RESPONSE_HOSTS = {"hooks.slack.com", "hooks.slack-gov.com"}


def channel_name(number: int, slug: str, prefix: str = "inc") -> str:
    """Return `<prefix>-<number>-<slug>` made to Slack's rules: a-z, 0-9, - and _, ≤ 80."""
    # "Café down!" → "cafe-down": drop accents, then turn every other character into a dash.
    ascii_slug = unicodedata.normalize("NFKD", slug).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9_]+", "-", ascii_slug.lower()).strip("-_")
    head = re.sub(r"[^a-z0-9_-]+", "-", prefix.lower()).strip("-_") or "inc"
    name = f"{head}-{number}-{cleaned}" if cleaned else f"{head}-{number}"
    return name[:NAME_LIMIT].rstrip("-_")


class _KeepAlive:
    """Keep-alive connections to the Slack API, one per sending thread and origin.

    slack_sdk's urllib path opens (and for HTTPS, handshakes) a connection per call; an
    http.client connection is not thread-safe, so each thread keeps its own.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[http.client.HTTPConnection] = []

    def post(self, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, Any]:
        """POST and read the answer as slack_sdk's urllib path gives it, whatever its status."""
        answer, data = self.exchange(url, body, headers)
        # Text, but a gzip file as bytes.
        content: str | bytes = data
        if answer.headers.get_content_type() != "application/gzip":
            content = data.decode(answer.headers.get_content_charset() or "utf-8", "replace")
        return {"status": answer.status, "headers": dict(answer.getheaders()), "body": content}

    def exchange(
        self, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """POST and read the whole answer; a stale kept-alive socket is redone."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for _ in range(2):
            connection = self._connection(parts.scheme, parts.netloc)
            reused = connection.sock is not None
            try:
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                return answer, answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                connection.close()
                if reused:  # the server dropped an idle connection: send on a new one
                    continue
                raise
            except (OSError, http.client.HTTPException):
                connection.close()
                raise
        raise http.client.RemoteDisconnected("Slack closed the connection")

    def close(self) -> None:
        """Close every connection any thread opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        mine: dict[tuple[str, str], http.client.HTTPConnection] | None
        mine = getattr(self._local, "connections", None)
        if mine is None:
            mine = self._local.connections = {}
        connection = mine.get((scheme, netloc))
        if connection is None:
            if scheme == "https":
                connection = http.client.HTTPSConnection(
                    netloc, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                connection = http.client.HTTPConnection(netloc, timeout=self.timeout)
            mine[(scheme, netloc)] = connection
            with self._lock:
                self._opened.append(connection)
        return connection


class _KeepAliveWebClient(WebClient):
    """slack_sdk's WebClient sending over kept-alive connections; slack_sdk still builds
    each request and judges each answer (ok: false, a 429's Retry-After)."""

    def __init__(self, *, connections: _KeepAlive, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.connections = connections
        # The headers api_call sends with a JSON body, built once by slack_sdk itself.
        self._json_headers = self._build_urllib_request_headers(
            token=self.token or "", has_json=True, has_files=False, additional_headers={}
        )
        self._urls: dict[str, str] = {}

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        """Send the request slack_sdk built; answer as its urllib path does, for any status."""
        if not url.lower().startswith(("http://", "https://")):
            raise SlackClientError(f"Invalid URL detected: {url[:100]}")
        data = req.data if isinstance(req.data, bytes) else None
        try:
            return self.connections.post(url, data, dict(req.header_items()))
        except (OSError, http.client.HTTPException) as exc:
            raise URLError(exc) from None  # as urllib fails: SlackChat._call reports it

    def call_json(self, method: str, params: dict[str, Any]) -> SlackResponse:
        """Call `method` with a JSON body as `api_call(method, json=params)` does, for less CPU.

        DESIGN names slack_sdk for the Web API, and slack_sdk still judges every answer; this
        only skips api_call's layers (the request's arguments built three times over, a
        urllib Request, json's encoder and decoder), which took a third of the sender's CPU
        for each chat.postMessage, the call warroom makes by the thousand. It sends the same
        request (URL, slack_sdk's headers, the JSON body without None values) and judges the
        answer with slack_sdk's SlackResponse.validate: an HTTP error or ok=false raises
        SlackApiError as api_call does, with the answer's headers (a 429's Retry-After).
        """
        url = self._urls.get(method)
        if url is None:
            url = self._urls[method] = urljoin(self.base_url, method)
        body = orjson.dumps({k: v for k, v in params.items() if v is not None})
        answer, raw = self.connections.exchange(url, body, self._json_headers)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):  # as slack_sdk words an answer that is not JSON
            text = " ".join(raw.decode("utf-8", "replace").split())
            data = {"ok": False, "error": f"{NOT_JSON}: {text[:100]}"}
        response = SlackResponse(
            client=self,
            http_verb="POST",
            api_url=url,
            req_args={"json": params},
            data=data,
            headers=dict(answer.getheaders()),
            status_code=answer.status,
        )
        response.validate()  # type: ignore[no-untyped-call]
        return response


class SlackChat:
    """The `Chat` port on the Slack Web API; errors become `DeliveryError`s."""

    def __init__(self, config: SlackConfig) -> None:
        if config.bot_token is None:
            raise ValueError("integrations.slack.bot_token is needed to send Slack notifications")
        self.config = config
        self._connections = _KeepAlive(config.timeout)
        self._client = _KeepAliveWebClient(
            connections=self._connections,
            token=config.bot_token.get_secret_value(),
            base_url=config.base_url,
            # Fractional seconds are fine; slack_sdk only annotates the parameter as int.
            timeout=cast(int, config.timeout),
            # The outbox retries with backoff; retrying here as well would multiply the waits.
            retry_handlers=[],
            logger=_SDK_LOG,
        )

    def close(self) -> None:
        """Close the kept-alive connections."""
        self._connections.close()

    def create_channel(self, *, name: str, private: bool, key: str) -> str:
        """Create the channel, or return the existing one of that name (a retried create)."""
        name = name.removeprefix("#")
        if not _NAME.fullmatch(name):
            raise DeliveryError(
                f"Slack channel name {name[:100]!r} is not valid: use channel_name()",
                permanent=True,
            )
        response = self._call(
            "conversations.create",
            lambda: self._client.conversations_create(name=name, is_private=private),
            tolerated={"name_taken"},
        )
        if response.get("ok"):
            return str(response["channel"]["id"])
        existing = self._find_channel(name)
        if existing is None:
            raise DeliveryError(
                f"Slack channel #{name} exists but the bot cannot see it (a private channel "
                "it is not in): rename it or invite the bot",
                permanent=True,
            )
        if existing.get("is_archived"):
            raise DeliveryError(
                f"Slack channel #{name} exists but is archived: unarchive or rename it",
                permanent=True,
            )
        if private and not existing.get("is_private"):
            # A restricted incident must never be discussed in a public channel.
            raise DeliveryError(
                f"Slack channel #{name} exists and is public, but this incident is restricted",
                permanent=True,
            )
        log.info("Slack channel #%s already exists; using it", name)
        return str(existing["id"])

    def invite(self, *, channel: str, users: list[str], key: str) -> None:
        """Invite users to a channel; people already in it (or the bot itself) are fine."""
        wanted = list(dict.fromkeys(u for u in users if u))
        if not wanted:
            return
        channel_id = self._channel_id(channel)
        response = self._call(
            "conversations.invite",
            lambda: self._client.conversations_invite(channel=channel_id, users=wanted, force=True),
            tolerated=_BENIGN_INVITE,
        )
        if not response.get("ok") and len(wanted) > 1:
            # One member already in the channel can fail the whole call: invite one by one.
            for user in wanted:
                single = partial(
                    self._client.conversations_invite, channel=channel_id, users=[user]
                )
                self._call("conversations.invite", single, tolerated=_BENIGN_INVITE)
            return
        for problem in response.get("errors") or []:
            # With force=true Slack invites whom it can and lists the rest; retrying won't help.
            if isinstance(problem, dict) and problem.get("error") not in _BENIGN_INVITE:
                log.warning(
                    "Slack could not invite %s to %s: %s",
                    problem.get("user"),
                    channel_id,
                    problem.get("error"),
                )

    def post(self, *, channel: str, text: str, key: str, card: IncidentCard | None = None) -> str:
        """Post a message (with the incident card when given); return its `ts`.

        `text` is plain text: its `&`, `<` and `>` are escaped, so a title such as
        `<!channel>` or `<https://evil|Open>` shows as written instead of pinging or linking.
        """
        blocks = card_blocks(card) if card is not None else None
        response = self._call(
            "chat.postMessage",
            lambda: self._client.call_json(
                "chat.postMessage",
                {
                    "channel": channel,
                    "text": escape(text),
                    "blocks": blocks,
                    "unfurl_links": False,
                    # Lets a reader of the channel (or a later sweep) spot a message sent twice.
                    "metadata": {
                        "event_type": "warroom_notification",
                        "event_payload": {"idempotency_key": key},
                    },
                },
            ),
        )
        return str(response["ts"])

    def open_view(self, *, trigger_id: str, view: dict[str, Any]) -> str:
        """Open a modal for the user whose click gave `trigger_id`; return the view's id.

        A trigger lives 3 seconds and serves once: call this while answering that click.
        """
        response = self._call(
            "views.open", lambda: self._client.views_open(trigger_id=trigger_id, view=view)
        )
        return str((response.get("view") or {}).get("id") or "")

    def _channel_id(self, channel: str) -> str:
        """Return the id of `#name` (conversations.invite takes ids only); ids pass through."""
        if not channel.startswith("#"):
            return channel
        found = self._find_channel(channel[1:])
        if found is None:
            raise DeliveryError(f"Slack channel {channel} was not found", permanent=True)
        return str(found["id"])

    def _find_channel(self, name: str) -> dict[str, Any] | None:
        """Page through conversations.list for the channel called `name`."""
        cursor: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            listing = partial(
                self._client.conversations_list,
                types="public_channel,private_channel",
                limit=200,
                cursor=cursor,
            )
            page = self._call("conversations.list", listing)
            for channel in page.get("channels") or []:
                if channel.get("name") == name:
                    return cast(dict[str, Any], channel)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        return None

    def _call(
        self,
        method: str,
        call: Callable[[], SlackResponse],
        tolerated: set[str] | frozenset[str] = frozenset(),
    ) -> SlackResponse:
        """Run one Web API call; return tolerated Slack errors, raise the rest as DeliveryError."""
        try:
            return call()
        except SlackApiError as exc:
            response = exc.response
            error = _error_code(response)
            if error in tolerated and response.status_code == 200:
                return cast(SlackResponse, response)
            raise _delivery_error(method, response.status_code, error, response.headers) from None
        except (TimeoutError, URLError, OSError, http.client.HTTPException) as exc:
            # str(exc) of these names the host and the reason, never the request's headers.
            reason = getattr(exc, "reason", None) or exc
            raise DeliveryError(f"Slack {method}: cannot reach Slack ({reason})") from None
        except SlackClientError as exc:
            raise DeliveryError(f"Slack {method}: {type(exc).__name__}") from None


def _error_code(response: Any) -> str:
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        return str(data.get("error") or "")
    return ""


def _delivery_error(
    method: str, status: int, error: str, headers: dict[str, Any] | None
) -> DeliveryError:
    """Classify a failed call: Slack's side or the rate limit is temporary, a refusal is not."""
    temporary = status in (408, 429) or status >= 500 or error in _TEMPORARY
    if error.startswith(NOT_JSON):
        error = ""  # slack_sdk's wording around an HTML error page; the status says enough
    what = error or f"HTTP {status}"
    wait = None
    if status == 429 or error == "ratelimited":
        retry_after = {k.lower(): v for k, v in (headers or {}).items()}.get("retry-after")
        if isinstance(retry_after, list):
            retry_after = retry_after[0] if retry_after else None
        if retry_after:
            what = f"{what} (Retry-After {str(retry_after)[:10]} s)"
        wait = retry_seconds(retry_after)  # the outbox waits as long as Slack asked
    return DeliveryError(
        f"Slack {method} failed: {what[:200]}", permanent=not temporary, retry_after=wait
    )


def response_url_allowed(url: str, config: SlackConfig) -> bool:
    """Tell whether `url` is a Slack response_url warroom may post to.

    The URL comes in a signed payload, yet warroom only ever posts to Slack's hooks host, or
    to the host of `base_url` (a Slack-compatible server of one's own, or a test's loopback):
    a payload must not turn warroom into a client of any address it names.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname in _RESPONSE_HOSTS:
        return True
    base = urlsplit(config.base_url)
    return (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and bool(parts.netloc)


def reply(response_url: str, text: str, *, config: SlackConfig) -> None:
    """Answer a click with an ephemeral message to the person who clicked.

    Slack shows nothing of the HTTP answer to a block_actions click: a reply goes to the
    click's response_url (valid 30 minutes, five times).
    """
    client = WebhookClient(response_url, timeout=cast(int, config.timeout), retry_handlers=[])
    try:
        answer = client.send(text=escape(text), response_type="ephemeral", replace_original=False)
    except (TimeoutError, URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DeliveryError(f"Slack response_url: cannot reach Slack ({reason})") from None
    if answer.status_code != 200:
        raise DeliveryError(
            f"Slack response_url answered {answer.status_code}: {str(answer.body)[:80]}"
        )
