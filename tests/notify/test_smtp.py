"""The SMTP mailer against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.conftest import need
from warroom.notify.ports import DeliveryError
from warroom.notify.smtp import SmtpMailer, message_id
from warroom.notify.smtp_config import SmtpConfig

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:  # pragma: no cover - the dev extra installs it
    Controller = None

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # pragma: no cover - the dev extra installs it
    x509 = None

USER, PASSWORD = "warroom", "pa55-Qw7zR"


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every accepted message and refuses some recipients."""

    refuse: dict[str, str] = field(default_factory=dict)
    envelopes: list[Any] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def message(self, index: int = -1) -> EmailMessage:
        raw = self.envelopes[index].content.replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    # handled=False: aiosmtpd then answers 535 itself instead of leaving the client waiting.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Recorder, int]]]:
    """Start aiosmtpd servers with the given options; stop them after the test."""
    need(Controller is not None, "aiosmtpd is not installed")
    controllers: list[Any] = []

    def start(**options: Any) -> tuple[Recorder, int]:
        handler = Recorder()
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return handler, port

    yield start
    for controller in controllers:
        controller.stop()


@dataclass
class Certificates:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """Make a private CA and a server certificate for 127.0.0.1 signed by it."""
    need(x509 is not None, "cryptography is not installed")
    folder = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warroom test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return Certificates(ca_file=ca_file, server=server)


def mailer(port: int, **overrides: Any) -> SmtpMailer:
    raw: dict[str, Any] = {"host": "127.0.0.1", "port": port, "from": "warroom@example.com"}
    return SmtpMailer(SmtpConfig.model_validate({**raw, **overrides}))


def send(adapter: SmtpMailer, **overrides: Any) -> str:
    arguments: dict[str, Any] = {
        "to": ["alice@example.com"],
        "subject": "[SEV-1] INC-42 Checkout down — you are paged",
        "text": "You are paged.\n",
        "html": None,
        "key": "page:42:alice:1",
    }
    return adapter.send(**{**arguments, **overrides})


def test_multipart_message_with_headers(smtp_server):
    handler, port = smtp_server()
    adapter = mailer(port, reply_to="oncall@example.com")

    result = send(
        adapter,
        to=["alice@example.com", "bob@example.org"],
        text="Plain — with a dash\n",
        html="<p>HTML &amp; more</p>",
    )

    (envelope,) = handler.envelopes
    assert envelope.mail_from == "warroom@example.com"
    assert envelope.rcpt_tos == ["alice@example.com", "bob@example.org"]
    message = handler.message()
    assert message["Message-ID"] == result == message_id("page:42:alice:1", "example.com")
    assert result.startswith("<page.42.alice.1.")
    assert result.endswith("@example.com>")
    assert message["From"] == "warroom <warroom@example.com>"
    assert message["To"] == "alice@example.com, bob@example.org"
    assert message["Reply-To"] == "oncall@example.com"
    assert message["Subject"] == "[SEV-1] INC-42 Checkout down — you are paged"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"].datetime.tzinfo is not None
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content() == "Plain — with a dash\n"
    assert message.get_body(("html",)).get_content().strip() == "<p>HTML &amp; more</p>"


def test_text_only_message_is_single_part(smtp_server):
    handler, port = smtp_server()
    send(mailer(port), text="Only text.\n", html=None)
    message = handler.message()
    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Only text.\n"


def test_message_id_follows_the_key():
    assert message_id("page-42-alice", "example.com") == "<page-42-alice@example.com>"
    # Same key, same id: a duplicate delivery can be recognised by the receiver.
    assert message_id("page 42/alice", "example.com") == message_id("page 42/alice", "example.com")
    # Sanitising must not merge distinct keys.
    assert message_id("page 42/alice", "example.com") != message_id("page.42.alice", "example.com")
    assert message_id("a" * 500, "example.com").startswith("<" + "a" * 80)
    assert len(message_id("a" * 500, "example.com")) < 120
    assert message_id("<>", "example.com").startswith("<message.")


def test_same_key_sends_the_same_message_id(smtp_server):
    handler, port = smtp_server()
    adapter = mailer(port)
    first = send(adapter, key="exec:42")
    second = send(adapter, key="exec:42")
    assert first == second
    assert [handler.message(i)["Message-ID"] for i in (0, 1)] == [first, first]


def test_subject_line_breaks_cannot_inject_headers(smtp_server):
    handler, port = smtp_server()
    send(mailer(port), subject="Checkout down\r\nBcc: eve@example.com")
    message = handler.message()
    assert message["Subject"] == "Checkout down Bcc: eve@example.com"
    assert message["Bcc"] is None
    assert handler.envelopes[0].rcpt_tos == ["alice@example.com"]


def test_bad_address_is_permanent(smtp_server):
    _, port = smtp_server()
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port), to=["alice@example.com\r\nBcc: eve@example.com"])
    assert caught.value.permanent


def test_no_recipients_is_permanent(smtp_server):
    _, port = smtp_server()
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port), to=[])
    assert caught.value.permanent


def test_every_recipient_refused_is_permanent(smtp_server):
    handler, port = smtp_server()
    handler.refuse["ghost@example.com"] = "550 5.1.1 No such user"
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port), to=["ghost@example.com"])
    assert caught.value.permanent
    assert "550" in str(caught.value)
    assert not handler.envelopes


def test_greylisted_recipient_is_temporary(smtp_server):
    handler, port = smtp_server()
    handler.refuse["alice@example.com"] = "450 4.2.0 Greylisted, try again later"
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port))
    assert not caught.value.permanent


def test_partly_refused_message_still_goes_to_the_rest(smtp_server, caplog):
    handler, port = smtp_server()
    handler.refuse["ghost@example.com"] = "550 5.1.1 No such user"
    result = send(mailer(port), to=["ghost@example.com", "alice@example.com"])
    assert result.startswith("<")
    assert handler.envelopes[0].rcpt_tos == ["alice@example.com"]
    assert "ghost@example.com (550)" in caplog.text


def test_connection_refused_is_temporary():
    with pytest.raises(DeliveryError) as caught:
        send(mailer(free_port()))
    assert not caught.value.permanent
    assert "ConnectionRefusedError" in str(caught.value)


def test_silent_server_times_out_as_temporary():
    with socket.socket() as listener:  # accepts the connection, never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(DeliveryError) as caught:
            send(mailer(port, timeout=0.3))
    assert not caught.value.permanent
    assert "timed out" in str(caught.value)


def test_starttls_with_login(smtp_server, certificates):
    handler, port = smtp_server(
        tls_context=certificates.server,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    adapter = mailer(
        port,
        security="starttls",
        ca_file=str(certificates.ca_file),
        username=USER,
        password=PASSWORD,
    )
    send(adapter)
    (envelope,) = handler.envelopes
    assert envelope.rcpt_tos == ["alice@example.com"]
    assert handler.message()["Message-ID"].startswith("<page.42.alice.1.")


def test_wrong_password_is_permanent_and_not_echoed(smtp_server, certificates):
    _, port = smtp_server(
        tls_context=certificates.server, authenticator=authenticator, auth_require_tls=True
    )
    adapter = mailer(
        port,
        security="starttls",
        ca_file=str(certificates.ca_file),
        username=USER,
        password="wrong-pa55-Xy",
    )
    with pytest.raises(DeliveryError) as caught:
        send(adapter)
    assert caught.value.permanent
    assert "535" in str(caught.value)
    assert "wrong-pa55-Xy" not in str(caught.value)


def test_plaintext_when_server_demands_starttls_is_permanent(smtp_server, certificates):
    _, port = smtp_server(tls_context=certificates.server, require_starttls=True)
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port))
    assert caught.value.permanent
    assert "530" in str(caught.value)


def test_untrusted_certificate_is_temporary(smtp_server, certificates):
    _, port = smtp_server(tls_context=certificates.server, require_starttls=True)
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port, security="starttls"))  # no ca_file: the system CAs do not know ours
    assert not caught.value.permanent
    assert "certificate" in str(caught.value)


def test_starttls_missing_on_server_is_permanent(smtp_server):
    _, port = smtp_server()  # no tls_context: STARTTLS is not offered
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port, security="starttls"))
    assert caught.value.permanent


def test_implicit_tls(smtp_server, certificates):
    handler, port = smtp_server(
        # aiosmtpd does not see the implicit TLS layer itself, so it must not demand STARTTLS.
        ssl_context=certificates.server,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    adapter = mailer(
        port, security="ssl", ca_file=str(certificates.ca_file), username=USER, password=PASSWORD
    )
    send(adapter)
    assert len(handler.envelopes) == 1


def test_implicit_tls_against_plain_server_is_temporary(smtp_server):
    _, port = smtp_server()
    with pytest.raises(DeliveryError) as caught:
        send(mailer(port, security="ssl", timeout=2))
    assert not caught.value.permanent


def test_config_validation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    config = SmtpConfig.model_validate(
        {
            "host": "relay.example.com",
            "from": "warroom@example.com",
            "username": USER,
            "password": "env:SMTP_PASSWORD",
            "executives": ["cto@example.com", "ceo@example.com"],
        }
    )
    assert config.port == 25
    assert config.security == "none"
    assert config.timeout == 10
    assert config.password is not None and config.password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(config)
    assert config.executives == ["cto@example.com", "ceo@example.com"]
    assert config.domain == "example.com"
    by_name = SmtpConfig.model_validate({"host": "h", "from_address": "w@example.com"})
    assert by_name.from_address == "w@example.com"

    bad: list[dict[str, Any]] = [
        {"host": "h"},  # no from
        {"host": "h", "from": "not-an-address"},
        {"host": "h", "from": "w@example.com", "executives": ["nobody"]},
        {"host": "h", "from": "w@example.com", "username": USER},  # no password
        {"host": "h", "from": "w@example.com", "security": "tls"},
        {"host": "h", "from": "w@example.com", "port": 0},
        {"host": "h", "from": "w@example.com", "ca_file": str(tmp_path / "missing.pem")},
        {"host": "h", "from": "w@example.com", "relay": "x"},  # unknown field
    ]
    for raw in bad:
        with pytest.raises(ValidationError):
            SmtpConfig.model_validate(raw)
