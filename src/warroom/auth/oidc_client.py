"""Talking to the OpenID Connect provider: discovery, JWKS, code exchange, ID-token checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from warroom.auth.oidc_config import OidcConfig, check_url
from warroom.core.errors import Unauthorized, WarroomError

DISCOVERY = "/.well-known/openid-configuration"


class ProviderUnavailable(WarroomError):
    """The identity provider did not answer, or answered with something unusable."""

    code = "provider_unavailable"
    status = 502


@dataclass(frozen=True)
class Metadata:
    """The parts of the discovery document warroom uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=timeout, follow_redirects=False)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ProviderUnavailable(f"the identity provider did not answer {url}: {exc}") from None
    if not isinstance(data, dict):
        raise ProviderUnavailable(f"the identity provider's {url} is not a JSON object")
    return data


def parse_metadata(data: dict[str, Any], issuer: str) -> Metadata:
    """Return the discovery document's endpoints, or raise if it is not the configured issuer's."""
    if data.get("issuer") != issuer:
        # A document naming another issuer may be a mix-up attack, or a typo in the config.
        raise ProviderUnavailable(
            f"the discovery document names issuer {data.get('issuer')!r}, "
            f"but auth.oidc.issuer is {issuer!r}; they must be equal"
        )
    found = {}
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = data.get(key)
        if not isinstance(value, str):
            raise ProviderUnavailable(f"the discovery document has no {key}")
        try:
            found[key] = check_url(value, key)
        except ValueError as exc:
            raise ProviderUnavailable(str(exc)) from None
    return Metadata(issuer=issuer, **found)


class _Cached:
    """A value fetched at most once per TTL (unless forced), shared by every request."""

    def __init__(self) -> None:
        self.value: Any = None
        self.key: object = None
        self.at: datetime | None = None


class Provider:
    """One configured provider, with its discovery document and keys cached in memory."""

    def __init__(self, *, now: Callable[[], datetime]) -> None:
        self.now = now
        self._lock = threading.Lock()
        self._metadata = _Cached()
        self._keys = _Cached()

    def _cached(
        self, slot: _Cached, key: object, config: OidcConfig, fetch: Callable[[], Any], force: bool
    ) -> Any:
        now = self.now()
        with self._lock:
            fresh = slot.at is not None and now - slot.at < config.cache_ttl
            if slot.key == key and fresh and not force:
                return slot.value
        value = fetch()  # outside the lock: a slow provider must not hold up other requests
        with self._lock:
            slot.value, slot.key, slot.at = value, key, now
        return value

    def metadata(self, config: OidcConfig) -> Metadata:
        """Return the provider's endpoints (cached for `cache_ttl`)."""
        url = config.issuer.rstrip("/") + DISCOVERY
        timeout = config.timeout.total_seconds()

        def fetch() -> Metadata:
            return parse_metadata(_get_json(url, timeout), config.issuer)

        return cast(Metadata, self._cached(self._metadata, url, config, fetch, force=False))

    def keys(self, config: OidcConfig, *, force: bool = False) -> KeySet:
        """Return the provider's signing keys (cached; `force` fetches them anew)."""
        uri = self.metadata(config).jwks_uri
        timeout = config.timeout.total_seconds()

        def fetch() -> KeySet:
            data = _get_json(uri, timeout)
            try:
                return KeySet.import_key_set(cast(Any, data))
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise ProviderUnavailable(f"the provider's JWKS is not usable: {exc}") from None

        return cast(KeySet, self._cached(self._keys, uri, config, fetch, force=force))

    def authorization_url(
        self, config: OidcConfig, *, redirect_uri: str, state: str, nonce: str, verifier: str
    ) -> str:
        """Return where to send the browser: the code flow with PKCE (S256) and a nonce."""
        return str(
            prepare_grant_uri(
                self.metadata(config).authorization_endpoint,
                config.client_id,
                "code",
                redirect_uri=redirect_uri,
                scope=config.scopes,
                state=state,
                nonce=nonce,
                code_challenge=create_s256_code_challenge(verifier),
                code_challenge_method="S256",
            )
        )

    def exchange(
        self, config: OidcConfig, *, code: str, redirect_uri: str, verifier: str
    ) -> dict[str, Any]:
        """Trade the authorization code for tokens; raise Unauthorized if the provider refuses."""
        endpoint = self.metadata(config).token_endpoint
        body = prepare_token_request(
            "authorization_code", redirect_uri=redirect_uri, code=code, code_verifier=verifier
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        client = ClientAuth(
            config.client_id, config.client_secret.get_secret_value(), config.client_auth
        )
        uri, headers, body = client.prepare("POST", endpoint, headers, body)
        try:
            response = httpx.post(
                uri,
                content=body,
                headers=headers,
                timeout=config.timeout.total_seconds(),
                follow_redirects=False,
            )
            token = response.json()
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"the identity provider did not answer: {exc}") from None
        except ValueError:
            raise ProviderUnavailable(
                f"the token endpoint answered {response.status_code} without JSON"
            ) from None
        if not isinstance(token, dict):
            raise ProviderUnavailable("the token endpoint's answer is not a JSON object")
        if response.status_code != 200 or "error" in token:
            error = token.get("error") or response.status_code
            described = f" ({token['error_description']})" if token.get("error_description") else ""
            raise Unauthorized(f"the identity provider refused the code: {error}{described}")
        if not isinstance(token.get("id_token"), str):
            raise Unauthorized("the identity provider sent no ID token (is scope openid asked?)")
        return token

    def validate(self, config: OidcConfig, token: dict[str, Any], *, nonce: str) -> dict[str, Any]:
        """Return the ID token's claims once its signature, issuer, audience, times and nonce
        check out; raise Unauthorized saying which did not."""
        raw = token["id_token"]
        try:
            decoded = self._decode(config, raw, force=False)
        except InvalidKeyIdError:
            # The provider may have rotated its keys since they were cached: fetch them once.
            try:
                decoded = self._decode(config, raw, force=True)
            except InvalidKeyIdError:
                raise Unauthorized(
                    "the ID token is signed with a key the provider does not publish"
                ) from None
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": config.issuer},
                "aud": {"essential": True, "value": config.client_id},
                "nonce": {"essential": True},
            },
            {
                "nonce": nonce,
                "client_id": config.client_id,
                "access_token": token.get("access_token"),
            },
        )
        try:
            claims.validate(
                now=int(self.now().timestamp()), leeway=int(config.leeway.total_seconds())
            )
        except ExpiredTokenError:
            raise Unauthorized("the ID token has expired (is this server's clock right?)") from None
        except (InvalidClaimError, MissingClaimError) as exc:
            claim = getattr(exc, "claim", None) or str(exc)
            raise Unauthorized(f"the ID token's {claim} claim is wrong or missing: {exc}") from None
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise Unauthorized(f"the ID token is not valid: {exc}") from None
        return dict(claims)

    def _decode(self, config: OidcConfig, raw: str, *, force: bool) -> Any:
        keys = self.keys(config, force=force)
        try:
            return jwt.decode(raw, keys, algorithms=list(config.algorithms))
        except InvalidKeyIdError:
            raise
        except (JoseError, ValueError) as exc:
            # A bad signature, alg none, HS256 with the public key, a malformed token: all no.
            raise Unauthorized(f"the ID token's signature does not verify: {exc}") from None
