"""Single sign-on: send the browser to the provider, and turn its answer into a session."""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from warroom.auth import sessions, trail
from warroom.auth.config import AuthConfig
from warroom.auth.oidc_client import Provider
from warroom.auth.oidc_config import OidcConfig
from warroom.auth.oidc_models import OidcLogin
from warroom.auth.oidc_users import find_or_create
from warroom.auth.signin import SignedIn, SignIns
from warroom.core.clock import Clock
from warroom.core.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized, WarroomError
from warroom.storage.db import Database

if TYPE_CHECKING:
    from warroom.organisation import PersonConfig

log = logging.getLogger("warroom.auth")
FLOW_TTL = timedelta(minutes=10)  # from leaving for the provider to coming back
START = "/api/v1/auth/oidc/start"
MESSAGE_KEPT = 500  # characters of a refusal's message an entry keeps
NEXT_WRONG = "next must be a path on this server, like /incidents/INC-4 (not another site)"


@dataclass(frozen=True)
class Begun:
    """Where to send the browser, and the flow cookie's value that binds the sign-in to it."""

    url: str
    secret: str
    max_age: int


@dataclass(frozen=True)
class Finished:
    """A signed-in browser and where it goes next."""

    signed: SignedIn
    next_path: str


def check_next(value: str | None) -> str:
    """Return `value` if it is a path on this server, else raise Invalid (no open redirect)."""
    if not value:
        return "/"
    parts = urlsplit(value)
    local = (
        value.startswith("/")
        and not value.startswith("//")  # //evil.example is another site to a browser
        and "\\" not in value  # so is /\evil.example to some
        and not parts.scheme
        and not parts.netloc
        and all(32 <= ord(c) != 127 for c in value)
    )
    if not local or len(value) > 2048:
        raise Invalid(NEXT_WRONG, {"field": "next"})
    return value


class OidcSignIns:
    """Browser sign-in with the configured OpenID Connect provider."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        auth: Callable[[], AuthConfig],
        people: Callable[[], Sequence[PersonConfig]],
        sign_ins: SignIns,
    ) -> None:
        self.db = db
        self.clock = clock
        self.auth = auth
        self.people = people
        self.sign_ins = sign_ins
        self.provider = Provider(now=clock.now)

    def config(self) -> OidcConfig:
        """Return `auth.oidc`, or raise NotFound when single sign-on is not configured."""
        oidc = self.auth().oidc
        if oidc is None:
            raise NotFound("single sign-on is not configured (auth.oidc in warroom.yaml)")
        return oidc

    def start(self, *, next_path: str | None, redirect_uri: str) -> Begun:
        """Prepare a sign-in (state, nonce, PKCE verifier) and return the provider's URL."""
        config = self.config()
        target = check_next(next_path)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 asks for 43-128
        secret = secrets.token_urlsafe(32)
        url = self.provider.authorization_url(
            config, redirect_uri=redirect_uri, state=state, nonce=nonce, verifier=verifier
        )
        now = self.clock.now()
        with self.db.transaction() as session:
            session.execute(delete(OidcLogin).where(OidcLogin.expires_at <= now))
            session.add(
                OidcLogin(
                    digest=sessions.digest(secret),
                    state=state,
                    nonce=nonce,
                    code_verifier=verifier,
                    next_path=target,
                    created_at=now,
                    expires_at=now + FLOW_TTL,
                )
            )
        return Begun(url=url, secret=secret, max_age=int(FLOW_TTL.total_seconds()))

    def _take(self, secret: str | None, now: datetime) -> OidcLogin:
        """Return and delete the sign-in this browser started: each is finished at most once."""
        if not secret:
            raise Unauthorized(
                "no single sign-on is under way in this browser (its cookie is missing: "
                f"cookies are off, or it took over 10 minutes); start again at {START}"
            )
        with self.db.transaction() as session:
            found = session.scalars(
                select(OidcLogin).where(OidcLogin.digest == sessions.digest(secret))
            ).first()
            if found is not None:
                session.delete(found)
                session.flush()
                session.expunge(found)
        if found is None or found.expires_at <= now:
            raise Unauthorized(
                f"this single sign-on has expired or was already finished; start again at {START}"
            )
        return found

    def finish(
        self,
        *,
        secret: str | None,
        state: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None,
        redirect_uri: str,
        previous: str | None,
        client_address: str,
        user_agent: str | None,
    ) -> Finished:
        """Check the provider's answer and the ID token, map it to a user, start a session."""
        config = self.config()
        claims: dict[str, Any] | None = None
        try:
            login = self._take(secret, self.clock.now())
            claims = self._claims(
                config,
                login,
                state=state,
                code=code,
                error=error,
                error_description=error_description,
                redirect_uri=redirect_uri,
            )
            signed = self._begin(
                config, claims, previous=previous, client_address=client_address, ua=user_agent
            )
        except WarroomError as exc:
            self._refused(config, exc, claims)
            raise
        log.info("%s signed in with single sign-on (subject %s)", signed.user, claims.get("sub"))
        return Finished(signed=signed, next_path=login.next_path)

    def _claims(
        self,
        config: OidcConfig,
        login: OidcLogin,
        *,
        state: str | None,
        code: str | None,
        error: str | None,
        error_description: str | None,
        redirect_uri: str,
    ) -> dict[str, Any]:
        """Return the ID token's claims once the answer is for this browser and checks out."""
        if not state or not hmac.compare_digest(state.encode(), login.state.encode()):
            raise Unauthorized(
                "state mismatch: this answer is not for the sign-in this browser started; "
                f"start again at {START}"
            )
        if error:
            described = f" ({error_description})" if error_description else ""
            raise Unauthorized(f"the identity provider refused the sign-in: {error}{described}")
        if not code:
            raise Unauthorized("the identity provider sent no code; start again at " + START)
        token = self.provider.exchange(
            config, code=code, redirect_uri=redirect_uri, verifier=login.code_verifier
        )
        return self.provider.validate(config, token, nonce=login.nonce)

    def _begin(
        self,
        config: OidcConfig,
        claims: dict[str, Any],
        *,
        previous: str | None,
        client_address: str,
        ua: str | None,
    ) -> SignedIn:
        """Map the claims to a user and start their session, with its entries, in one go."""
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                mapped = find_or_create(
                    session, claims=claims, config=config, people=self.people(), now=now
                )
                user = mapped.user
                signed = self.sign_ins.begin(
                    session,
                    user=user,
                    previous=previous,
                    client_address=client_address,
                    user_agent=ua,
                    sso=True,
                )
                if mapped.created:
                    trail.user_created(session, actor=trail.OIDC, at=now, user=user, via="oidc")
                if mapped.role_changed:
                    before, after = mapped.role_changed
                    trail.user_changed(
                        session,
                        "user.role",
                        actor=trail.OIDC,
                        at=now,
                        user=user.name,
                        **{"from": before, "to": after, "via": "oidc"},
                    )
                trail.signed_in(
                    session,
                    at=now,
                    user=user.name,
                    method="oidc",
                    session_id=signed.session_id,
                    subject=claims.get("sub"),
                )
        except IntegrityError:
            # Two first sign-ins of one subject at once: one linked it, this one lost the race.
            raise Conflict(
                f"another sign-in of this account just finished; start again at {START}"
            ) from None
        return signed

    def _refused(
        self, config: OidcConfig, exc: WarroomError, claims: dict[str, Any] | None
    ) -> None:
        """Record a single sign-on that ended without a session, and why (never a code)."""
        claimed = claims.get(config.user_claim) if claims else None
        subject = claims.get("sub") if claims else None
        trail.sign_in_refused(
            self.db,
            at=self.clock.now(),
            name=claimed if isinstance(claimed, str) else None,
            method="oidc",
            reason=exc.code,
            outcome="denied" if isinstance(exc, Forbidden) else "failed",
            # The provider's words may be long (error_description): the start is enough.
            message=exc.message[:MESSAGE_KEPT],
            subject=subject[:255] if isinstance(subject, str) else None,
        )
