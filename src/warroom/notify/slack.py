"""Slack through slack_sdk's WebClient: incident channels, invitations, cards and modals."""

from __future__ import annotations

import http.client
import logging
import re
import unicodedata
from collections.abc import Callable
from functools import partial
from typing import Any, cast
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from warroom.notify.ports import DeliveryError, IncidentCard, retry_seconds
from warroom.notify.slack_blocks import card_blocks, escape
from warroom.notify.slack_config import SlackConfig
from warroom.notify.slack_transport import NOT_JSON, KeepAlive, KeepAliveWebClient

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


class SlackChat:
    """The `Chat` port on the Slack Web API; errors become `DeliveryError`s."""

    def __init__(self, config: SlackConfig) -> None:
        if config.bot_token is None:
            raise ValueError("integrations.slack.bot_token is needed to send Slack notifications")
        self.config = config
        self._connections = KeepAlive(config.timeout)
        self._client = KeepAliveWebClient(
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
