"""deploy/nginx/warroom.conf: TLS in front of warroom, and /events never buffered.

The file is parsed here; where nginx is installed, `nginx -t` checks it too (inside a small
wrapper, with a throwaway certificate). nginx is not needed in CI: without it that test skips.
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deploy.files import DEPLOY

CONF = DEPLOY / "nginx" / "warroom.conf"
FORWARDED = {
    "Host": "$host",
    "X-Forwarded-For": "$proxy_add_x_forwarded_for",
    "X-Forwarded-Proto": "$scheme",
}


@dataclass
class Block:
    """A directive with its arguments and, for a block, the directives inside it."""

    name: str
    args: list[str]
    children: list[Block] = field(default_factory=list)

    def all(self, name: str) -> list[Block]:
        return [child for child in self.children if child.name == name]

    def one(self, name: str) -> list[str]:
        found = self.all(name)
        assert len(found) == 1, f"{self.name} {self.args}: {len(found)} {name} directives"
        return found[0].args


def parse(text: str) -> Block:
    """Parse nginx's configuration syntax (enough of it for this file) into blocks."""
    tokens = re.findall(r'"[^"]*"|[{};]|[^\s{};"]+', re.sub(r"#[^\n]*", "", text))
    root = Block("main", [])
    stack, words = [root], []
    for token in tokens:
        if token == ";":
            assert words, "an empty directive"
            stack[-1].children.append(Block(words[0], words[1:]))
            words = []
        elif token == "{":
            block = Block(words[0], words[1:])
            stack[-1].children.append(block)
            stack.append(block)
            words = []
        elif token == "}":
            assert not words and len(stack) > 1, "unbalanced braces"
            stack.pop()
        else:
            words.append(token.strip('"'))
    assert len(stack) == 1 and not words, "unbalanced braces or a missing ;"
    return root


def headers(block: Block) -> dict[str, str]:
    return {child.args[0]: " ".join(child.args[1:]) for child in block.all("proxy_set_header")}


CONFIG = parse(CONF.read_text(encoding="utf-8"))
TLS = next(s for s in CONFIG.all("server") if s.all("listen")[0].args[:2] == ["443", "ssl"])


def test_upstream_is_warroom_on_loopback() -> None:
    (upstream,) = CONFIG.all("upstream")
    assert upstream.one("server") == ["127.0.0.1:8080"]
    assert upstream.args == ["warroom"]


def test_plain_http_redirects_to_https() -> None:
    plain = next(s for s in CONFIG.all("server") if s.all("listen")[0].args == ["80"])
    assert plain.one("return") == ["301", "https://$host$request_uri"]


def test_tls_server_proxies_with_the_forwarded_headers() -> None:
    assert TLS.one("ssl_certificate") and TLS.one("ssl_certificate_key")
    assert headers(TLS) == {**FORWARDED, "Connection": ""}
    (root,) = [loc for loc in TLS.all("location") if loc.args == ["/"]]
    assert root.one("proxy_pass") == ["http://warroom"]


def test_events_are_neither_buffered_nor_cached_nor_timed_out() -> None:
    (events,) = [loc for loc in TLS.all("location") if loc.args == ["/events"]]
    assert events.one("proxy_pass") == ["http://warroom"]
    assert events.one("proxy_buffering") == ["off"]
    assert events.one("proxy_cache") == ["off"]
    assert events.one("proxy_read_timeout") == ["1h"]
    assert events.one("proxy_http_version") == ["1.1"]
    # proxy_set_header in a location replaces every inherited one: all must be repeated.
    assert headers(events) == {**FORWARDED, "Connection": ""}


def test_the_parser_catches_a_missing_semicolon() -> None:
    with pytest.raises(AssertionError):
        parse("server { listen 80 }")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """Write a throwaway certificate and key for warroom.example.com."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "warroom.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_test(directory: Path, conf: str) -> subprocess.CompletedProcess[str]:
    """Run `nginx -t` on conf included in an http block, as /etc/nginx/nginx.conf would."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    cert, key = self_signed(directory)
    conf = conf.replace("/etc/letsencrypt/live/warroom.example.com/fullchain.pem", str(cert))
    conf = conf.replace("/etc/letsencrypt/live/warroom.example.com/privkey.pem", str(key))
    (directory / "warroom.conf").write_text(conf, encoding="utf-8")
    temp = " ".join(
        f"{kind}_temp_path {directory / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    wrapper = directory / "nginx.conf"
    wrapper.write_text(
        f"pid {directory / 'nginx.pid'};\nerror_log {directory / 'error.log'};\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  {temp}\n"
        f"  include {directory / 'warroom.conf'};\n}}\n",
        encoding="utf-8",
    )
    return subprocess.run(
        [nginx, "-t", "-p", str(directory), "-c", str(wrapper)],
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.skipif(
    shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists(),
    reason="nginx is not installed: the file is only parsed here",
)
def test_nginx_accepts_the_file(tmp_path: Path) -> None:
    conf = CONF.read_text(encoding="utf-8")
    done = nginx_test(tmp_path, conf)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
    broken = nginx_test(tmp_path, conf.replace("proxy_buffering off;", "proxy_buffering maybe;"))
    assert broken.returncode != 0 and "proxy_buffering" in broken.stderr
