"""Push notifications through apprise: one URL per contact method (ntfy, Pushover, Teams…).

Each push builds its apprise service afresh from the contact method's URL and drops it after:
nothing holds a connection or a credential between pages (apprise posts with plain
`requests.post`). A push URL carries its secret (an ntfy topic, a Pushover user key, a bot
token), so it is never logged: errors and log lines show `masked(url)` and apprise's own
reasons with every part of the URL scrubbed out.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import unquote

import apprise
from apprise import AppriseResultStatus, NotifyType

from warroom.notify.ports import DeliveryError, PushNote
from warroom.notify.push_config import PushConfig

log = logging.getLogger("warroom.notify")

NTFY = ("ntfy", "ntfys")
PUSHOVER = ("pover", "pushover")
GOTIFY = ("gotify", "gotifys")
# Pushover's and Gotify's words for ntfy's five priorities (both read them by first letter):
# Pushover -2..2 (emergency repeats until acknowledged in the app), Gotify 0..10.
PRIORITY_WORDS = {
    "min": "low",
    "low": "moderate",
    "default": "normal",
    "high": "high",
    "max": "emergency",
}
# Services without priorities show the message type (Teams' colour, Discord's icon…).
NOTIFY_TYPES = {"high": NotifyType.FAILURE, "max": NotifyType.FAILURE}
MASK = "•••"
_HOST = re.compile(
    r"^(localhost|\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d{1,5})?$",
    re.IGNORECASE,
)
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)
_HTTP_CODE = re.compile(r"error=(\d{3})")  # apprise plugins end a refusal with `error=<code>`


def scheme_of(url: str) -> str:
    """Return the URL's scheme in lower case ("" when it has none)."""
    scheme, sep, _ = url.partition("://")
    return scheme.strip().lower() if sep else ""


def masked(url: str) -> str:
    """Return what may be shown of a push URL: its scheme and a public host name, no more."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return MASK
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    tail = rest[len(host) :]
    if "@" in host or not _HOST.match(host):
        return f"{scheme}://{MASK}"  # the "host" is a key (pover://USER@TOKEN, msteams://…)
    return f"{scheme}://{host}" + (f"/{MASK}" if tail.strip("/") else "")


def scrub(text: str, url: str) -> str:
    """Return `text` (apprise's reason) with every secret part of `url` replaced by •••."""
    _, _, rest = url.partition("://")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0]
    public = set(host.split(":")) if _HOST.match(host) and "@" not in host else set()
    pieces = {p for p in re.split(r"[/@:?&=#,;]", rest) if len(p) >= 4 and p not in public}
    pieces |= {unquote(p) for p in pieces}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, MASK)
    return _URL_IN_TEXT.sub(lambda m: masked(m.group()), text)


class ApprisePush:
    """Send a push note to the service a contact method's apprise URL names."""

    def __init__(self, config: PushConfig) -> None:
        self.config = config
        self.schemes = {s.lower() for s in config.schemes}
        # apprise logs topics, user keys and hosts of failed sends at WARNING: keep them out
        # of warroom's log (it captures them per call and we report them scrubbed).
        apprise_log = logging.getLogger("apprise")
        apprise_log.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in apprise_log.handlers):
            apprise_log.addHandler(logging.NullHandler())

    def push(self, *, url: str, note: PushNote, key: str) -> str:
        """Deliver the note; raise DeliveryError (retryable unless the URL is at fault)."""
        scheme = scheme_of(url)
        if not scheme:
            raise DeliveryError("a push address is an apprise URL (ntfys://…)", permanent=True)
        if scheme not in self.schemes:
            raise DeliveryError(
                f"push URLs of type {scheme}:// are not allowed (integrations.push.schemes)",
                permanent=True,
            )
        service = self._service(url, scheme, note)
        sender = apprise.Apprise()
        sender.add(service)
        started = time.monotonic()
        with sender.notify(
            body=_body(scheme, note),
            title=note.title,
            notify_type=NOTIFY_TYPES.get(note.urgency, NotifyType.INFO),
            timeout=self.config.timeout,
        ) as result:
            if result.status == AppriseResultStatus.SUCCESS:
                log.info("push sent to %s (%s)", masked(url), key)
                return key
            waited = time.monotonic() - started
            error = _failure(result, url, self.config.timeout, waited)
        # INFO: the outbox keeps the error on the row and says when a page is dead.
        log.info("push to %s failed: %s", masked(url), error)
        raise error

    def _service(self, url: str, scheme: str, note: PushNote) -> Any:
        """Return apprise's service for the URL, with the note's priority and actions."""
        parsed = apprise.plugins.url_to_dict(url, secure_logging=True)  # type: ignore[no-untyped-call]
        if parsed is None or parsed.get("schema") != scheme:
            raise DeliveryError(f"apprise cannot read this {scheme}:// URL", permanent=True)
        timeout = self.config.timeout
        parsed.update(_extras(scheme, note), cto=timeout, rto=timeout)
        # Kept in memory only: some services (Matrix) would cache a login token on disk.
        asset = apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY)
        try:
            service = apprise.Apprise.instantiate(parsed, asset=asset, suppress_exceptions=False)
        except Exception as exc:  # the plugin's own words for what is wrong with the URL
            reason = scrub(str(exc), url) or type(exc).__name__
            raise DeliveryError(
                f"apprise cannot use this {scheme}:// URL: {reason}", permanent=True
            ) from None
        if service is None:
            raise DeliveryError(f"apprise cannot use this {scheme}:// URL", permanent=True)
        if scheme in NTFY and not getattr(service, "topics", None):
            raise DeliveryError("this ntfy URL names no valid topic", permanent=True)
        return service


def _extras(scheme: str, note: PushNote) -> dict[str, Any]:
    """Return the service's own arguments for urgency, the click URL and Acknowledge."""
    # An urgency outside ntfy's five (a typo in integrations.push.urgency) sends as default.
    urgency = note.urgency if note.urgency in PRIORITY_WORDS else "default"
    if scheme in NTFY:
        actions: list[dict[str, Any]] = []
        if note.ack_url:
            # A POST to the link acknowledges; ntfy's app sends it from the button itself.
            actions.append(
                {
                    "action": "http",
                    "label": "Acknowledge",
                    "url": note.ack_url,
                    "method": "POST",
                    "clear": True,
                }
            )
        if note.click_url:
            actions.append({"action": "view", "label": "Open incident", "url": note.click_url})
        # No icon: apprise's is an image on github.com that every phone would fetch.
        extras: dict[str, Any] = {"priority": urgency, "include_image": False}
        if note.click_url:
            extras["click"] = note.click_url
        if actions:
            # apprise sends this as the X-Actions header; ntfy reads a JSON array there too,
            # which, unlike the `a, b, c; …` form, survives commas and semicolons in URLs.
            extras["actions"] = json.dumps(actions, separators=(",", ":"))
        return extras
    if scheme in PUSHOVER:
        extras = {"priority": PRIORITY_WORDS[urgency]}
        link = note.ack_url or note.click_url
        if link:  # one supplementary link: the acknowledge page (a GET asks to confirm)
            extras["supplemental_url"] = link
            extras["supplemental_url_title"] = "Acknowledge" if note.ack_url else "Open incident"
        return extras
    if scheme in GOTIFY:
        return {"priority": PRIORITY_WORDS[urgency]}
    return {}


def _body(scheme: str, note: PushNote) -> str:
    """Return the text; services without buttons get the links in it."""
    if scheme in NTFY:
        return note.body
    lines = [note.body]
    if note.ack_url and scheme not in PUSHOVER:
        lines.append(f"Acknowledge: {note.ack_url}")
    if note.click_url:
        lines.append(f"Open: {note.click_url}")
    return "\n".join(lines)


def _failure(
    result: apprise.AppriseResult, url: str, timeout: float, waited: float
) -> DeliveryError:
    """Return the error for a failed notify: apprise's reason, retryable unless a 4xx."""
    # apprise stops waiting at the deadline, or requests gives up reading and apprise calls
    # it "a connection error": either way the service did not answer in time.
    if result.status == AppriseResultStatus.TIMEOUT or result.timeout_count or waited >= timeout:
        return DeliveryError(f"no answer within {timeout:g}s (integrations.push.timeout)")
    said = [
        scrub(entry.message, url)
        for entry in result.logs()
        if entry.level in ("WARNING", "ERROR", "CRITICAL")
    ]
    reason = said[-1] if said else "the service did not take the notification"
    codes = [int(code) for line in said for code in _HTTP_CODE.findall(line)]
    # A 4xx is the service refusing this URL or message (a wrong token, an unknown topic):
    # sending it again would be refused again. Throttling and timeouts pass with time.
    permanent = bool(codes) and 400 <= codes[-1] < 500 and codes[-1] not in (408, 425, 429)
    return DeliveryError(reason, permanent=permanent)
