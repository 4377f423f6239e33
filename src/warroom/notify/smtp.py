"""Outgoing email over SMTP (`integrations.smtp`), with the standard library's smtplib.

The sender calls adapters from worker threads, so blocking smtplib fits; each message gets a
connection of its own, which keeps the mailer thread-safe and lets a relay restart between
messages without warroom holding a dead connection.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from warroom.core.text import show_bidi
from warroom.notify.ports import DeliveryError
from warroom.notify.smtp_config import SmtpConfig

log = logging.getLogger("warroom.notify.smtp")

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")
_KEY_ROOM = 80  # keeps the Message-ID line well under the 78-character advice when folded


def message_id(key: str, domain: str) -> str:
    """Return the Message-ID for an idempotency key: the same key gives the same id."""
    local = _UNSAFE.sub(".", key).strip(".")[:_KEY_ROOM] or "message"
    if local != key:
        # Sanitising may merge distinct keys; a digest of the original keeps them apart.
        local = f"{local}.{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    return f"<{local}@{domain}>"


class SmtpMailer:
    """A `Mailer` that hands each message to the configured SMTP relay."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._context: ssl.SSLContext | None = None
        if config.security != "none":
            cafile = str(config.ca_file) if config.ca_file is not None else None
            self._context = ssl.create_default_context(cafile=cafile)

    def build(
        self, *, to: list[str], subject: str, text: str, html: str | None, key: str
    ) -> EmailMessage:
        """Build the message that `send` would hand to the relay."""
        config = self.config
        message = EmailMessage()
        message["From"] = formataddr((config.from_name, str(config.from_address)))
        message["To"] = ", ".join(to)
        # A title with a line break must not end the header (or inject another one).
        # Bidi controls shown: a mail client would reorder the subject (and body) unseen.
        message["Subject"] = show_bidi(" ".join(subject.split()))
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id(key, config.domain)
        if config.reply_to is not None:
            message["Reply-To"] = str(config.reply_to)
        # RFC 3834: out-of-office robots must not answer a page.
        message["Auto-Submitted"] = "auto-generated"
        message["X-Warroom-Key"] = " ".join(key.split())
        message.set_content(show_bidi(text))
        if html is not None:
            message.add_alternative(show_bidi(html), subtype="html")
        return message

    def send(self, *, to: list[str], subject: str, text: str, html: str | None, key: str) -> str:
        """Send one message to every address; return its Message-ID."""
        if not to:
            raise DeliveryError("email has no recipients", permanent=True)
        try:
            message = self.build(to=to, subject=subject, text=text, html=html, key=key)
        except ValueError as exc:  # a line break in an address, say: retrying cannot help
            raise DeliveryError(f"email cannot be built: {exc}", permanent=True) from None
        refused = self._deliver(message, to)
        if refused:
            # Some recipients got it; retrying would send it to them again, so report success.
            log.warning(
                "smtp relay refused some recipients of %s: %s",
                message["Message-ID"],
                ", ".join(f"{rcpt} ({code})" for rcpt, (code, _) in sorted(refused.items())),
            )
        return str(message["Message-ID"])

    def close(self) -> None:
        """Release resources (none are held between messages)."""

    def _deliver(self, message: EmailMessage, to: list[str]) -> dict[str, tuple[int, bytes]]:
        config = self.config
        where = f"{config.host}:{config.port}"
        try:
            with self._connect() as client:
                if config.security == "starttls":
                    client.starttls(context=self._context)
                    client.ehlo()
                if config.username is not None and config.password is not None:
                    client.login(config.username, config.password.get_secret_value())
                return client.send_message(message, to_addrs=to)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            detail = ", ".join(
                f"{rcpt}: {code} {self._text(reply)}"
                for rcpt, (code, reply) in exc.recipients.items()
            )
            raise DeliveryError(
                f"smtp {where} refused every recipient ({detail})", permanent=permanent
            ) from None
        except smtplib.SMTPResponseException as exc:
            # Sender refused, data refused, authentication failed, HELO refused, …
            raise DeliveryError(
                f"smtp {where} answered {exc.smtp_code} {self._text(exc.smtp_error)}",
                permanent=exc.smtp_code >= 500,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            # The relay lacks STARTTLS or AUTH: a configuration mismatch, not a passing fault.
            raise DeliveryError(f"smtp {where}: {self._scrub(str(exc))}", permanent=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"smtp {where}: certificate not trusted ({exc.verify_message})"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnects, refused connections, timeouts (TimeoutError is an OSError), TLS.
            kind = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            raise DeliveryError(f"smtp {where}: {kind}: {self._scrub(str(exc))}") from None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        if config.security == "ssl":
            return smtplib.SMTP_SSL(
                config.host, config.port, timeout=config.timeout, context=self._context
            )
        return smtplib.SMTP(config.host, config.port, timeout=config.timeout)

    def _text(self, reply: bytes | str) -> str:
        raw = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        return self._scrub(" ".join(raw.split()))

    def _scrub(self, text: str) -> str:
        """Remove the password (plain or as AUTH sends it) should a relay echo it back."""
        password = self.config.password
        if password is None:
            return text
        secret = password.get_secret_value()
        user = self.config.username or ""
        forms = {
            secret,
            base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"\0{user}\0{secret}".encode()).decode(),
        }
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, "***")
        return text
