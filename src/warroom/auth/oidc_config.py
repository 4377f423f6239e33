"""`auth.oidc` in warroom.yaml: single sign-on with an OpenID Connect provider."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from warroom.core.durations import Duration
from warroom.secrets import Secret

Role = Literal["viewer", "responder", "admin"]
# Public-key algorithms only: an HMAC algorithm would be keyed with the client secret, and a
# token "signed" with the provider's public key as an HMAC secret must never pass.
Algorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
ROLE_ORDER = ("viewer", "responder", "admin")
RS256: list[Algorithm] = ["RS256"]  # what every common provider signs with


def loopback(host: str | None) -> bool:
    """Tell whether `host` is this machine (http is allowed there only)."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, what: str) -> str:
    """Return `value` if it is https (or http on loopback), else raise ValueError."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and loopback(parts.hostname):
        return value
    raise ValueError(
        f"{what} must be an https:// URL (http:// only on 127.0.0.1 or localhost), not {value!r}"
    )


class OidcConfig(BaseModel):
    """One OpenID Connect provider that browsers may sign in with (docs/security.md)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str = Field(
        max_length=255, description="The provider's issuer URL, as in its discovery document."
    )
    client_id: str = Field(min_length=1)
    client_secret: Secret
    client_auth: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    user_claim: str = Field(
        default="email",
        min_length=1,
        description="email: a person's e-mail in people:; any other claim: a person id.",
    )
    groups_claim: str = Field(default="groups", min_length=1)
    roles: dict[str, Role] = Field(
        default_factory=dict, description="group → role; the highest wins, set at each sign-in."
    )
    teams: dict[str, str] = Field(default_factory=dict, description="group → team id")
    create_users: bool = True
    default_role: Role = Field(
        default="viewer", description="The role of a user created at sign-in when roles is empty."
    )
    button_label: str = Field(default="Sign in with single sign-on", min_length=1, max_length=64)
    algorithms: list[Algorithm] = Field(default_factory=lambda: list(RS256), min_length=1)
    leeway: Duration = Field(default=timedelta(seconds=60))
    timeout: Duration = Field(default=timedelta(seconds=10))
    cache_ttl: Duration = Field(default=timedelta(hours=1))

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        # Kept exactly as written: the ID token's `iss` must equal it, trailing slash and all.
        return check_url(value, "issuer")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("scopes must include openid (without it there is no ID token)")
        return value

    @field_validator("leeway")
    @classmethod
    def _leeway(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= timedelta(minutes=5):
            raise ValueError("leeway must be between 0s and 5m")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= value <= timedelta(minutes=1):
            raise ValueError("timeout must be between 1s and 1m")
        return value

    def role_of(self, groups: list[str]) -> str | None:
        """Return the highest role the groups map to, or None when none does."""
        found = [self.roles[g] for g in groups if g in self.roles]
        return max(found, key=ROLE_ORDER.index) if found else None

    def teams_of(self, groups: list[str]) -> list[str]:
        """Return the team ids the groups map to, sorted."""
        return sorted({self.teams[g] for g in groups if g in self.teams})


def check_oidc(
    oidc: OidcConfig | None, team_ids: list[str]
) -> list[tuple[tuple[object, ...], str]]:
    """Return (location, message) for team mappings that name no team of `teams:`."""
    if oidc is None:
        return []
    return [
        (("auth", "oidc", "teams", group), f"unknown team {team!r}; known: {', '.join(team_ids)}")
        for group, team in oidc.teams.items()
        if team not in team_ids
    ]
