"""A small OpenID Connect provider of ours on loopback: discovery, JWKS, authorize, token.

Real RSA keys (cryptography), RS256 ID tokens built by hand so tests can also make the bad
ones a real provider never would: alg none, HS256 keyed with the public key, a broken
signature, an unknown key id. The test decides who signs in (`claims`) and what to spoil.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

CLIENT_ID = "warroom-test"
CLIENT_SECRET = "s3cret-of-the-client"


def b64(data: bytes) -> str:
    """Return base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass
class Key:
    """An RSA signing key and its id."""

    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, str]:
        """Return the public key as a JWK."""
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }

    def public_pem(self) -> bytes:
        """Return the public key as PEM (what an HS256 confusion attack keys with)."""
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


@dataclass
class Grant:
    """An authorization code waiting to be exchanged."""

    redirect_uri: str
    nonce: str | None
    challenge: str
    claims: dict[str, Any]


class Provider:
    """The provider's state; the HTTP handler below reads and changes it."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.url = ""  # set once the server listens
        self.keys = [Key("key-1")]
        self.published: list[str] = ["key-1"]  # kids served at /jwks
        self.signing = "key-1"
        self.claims: dict[str, Any] = {"sub": "sub-alice", "email": "alice@example.com"}
        self.spoil: dict[str, Any] = {}  # ID-token claims to override (aud, iss, exp, nonce…)
        self.mode = "rs256"  # rs256 | none | hs256-public | bad-signature
        self.codes: dict[str, Grant] = {}
        self.hits: list[str] = []  # request paths, in order
        self.token_requests: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def key(self, kid: str) -> Key:
        """Return the key with this id."""
        return next(k for k in self.keys if k.kid == kid)

    def rotate(self, kid: str, *, keep_old: bool = False) -> None:
        """Sign with a new key from now on, and publish it (with or without the old one)."""
        self.keys.append(Key(kid))
        self.published = [*self.published, kid] if keep_old else [kid]
        self.signing = kid

    def discovery(self) -> dict[str, Any]:
        """Return the discovery document."""
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def id_token(self, grant: Grant) -> str:
        """Return a signed ID token for the grant, spoiled as the test asked."""
        now = int(self.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            **({"nonce": grant.nonce} if grant.nonce else {}),
            **grant.claims,
            **self.spoil,
        }
        claims = {k: v for k, v in claims.items() if v is not None}  # spoil with None drops
        alg = {"none": "none", "hs256-public": "HS256"}.get(self.mode, "RS256")
        header = {"alg": alg, "typ": "JWT", "kid": self.signing}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        key = self.key(self.signing)
        if self.mode == "none":
            return signing_input + "."
        if self.mode == "hs256-public":
            mac = hmac.new(key.public_pem(), signing_input.encode(), hashlib.sha256).digest()
            return f"{signing_input}.{b64(mac)}"
        signature = key.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        if self.mode == "bad-signature":
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        return f"{signing_input}.{b64(signature)}"


class _Handler(BaseHTTPRequestHandler):
    provider: Provider

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        p = self.provider
        parts = urlsplit(self.path)
        p.hits.append(parts.path)
        if parts.path == "/.well-known/openid-configuration":
            self._send(200, p.discovery())
        elif parts.path == "/jwks":
            self._send(200, {"keys": [p.key(kid).jwk() for kid in p.published]})
        elif parts.path == "/authorize":
            self._authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
        else:
            self._send(404, {"error": "not_found"})

    def _authorize(self, query: dict[str, str]) -> None:
        p = self.provider
        if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            self._send(400, {"error": "invalid_request"})
            return
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            self._send(400, {"error": "invalid_request", "error_description": "PKCE S256 needed"})
            return
        code = secrets.token_urlsafe(16)
        with p.lock:
            p.codes[code] = Grant(
                redirect_uri=query["redirect_uri"],
                nonce=query.get("nonce"),
                challenge=query["code_challenge"],
                claims=dict(p.claims),
            )
        answer = urlencode({"code": code, "state": query.get("state", "")})
        back = f"{query['redirect_uri']}?{answer}"
        self._send(302, headers={"Location": back})

    def do_POST(self) -> None:
        p = self.provider
        p.hits.append(self.path)
        if self.path != "/token":
            self._send(404, {"error": "not_found"})
            return
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        p.token_requests.append({**form, "authorization": self.headers.get("Authorization", "")})
        if not self._client_ok(form):
            self._send(401, {"error": "invalid_client"})
            return
        with p.lock:
            grant = p.codes.pop(form.get("code", ""), None)  # a code is good once
        if form.get("grant_type") != "authorization_code" or grant is None:
            self._send(400, {"error": "invalid_grant", "error_description": "unknown code"})
            return
        if form.get("redirect_uri") != grant.redirect_uri:
            self._send(400, {"error": "invalid_grant", "error_description": "redirect_uri differs"})
            return
        verifier = form.get("code_verifier", "")
        if b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge:
            self._send(
                400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
            )
            return
        self._send(
            200,
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": p.id_token(grant),
            },
        )

    def _client_ok(self, form: dict[str, str]) -> bool:
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            given = base64.b64decode(header[6:]).decode()
            return given == f"{CLIENT_ID}:{CLIENT_SECRET}"
        return form.get("client_id") == CLIENT_ID and form.get("client_secret") == CLIENT_SECRET


def serve(now: Callable[[], datetime]) -> Iterator[Provider]:
    """Run a provider on a free loopback port until the generator is closed."""
    provider = Provider(now)
    handler = type("Handler", (_Handler,), {"provider": provider})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
