"""Sign-in, refresh-token rotation with reuse detection, and revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nexus.audit.service import AuditAction, record
from nexus.auth.models import RefreshToken
from nexus.auth.passwords import Passwords
from nexus.auth.repository import revoke_family
from nexus.auth.schemas import TokenPair
from nexus.auth.tokens import AccessTokens, hash_refresh_token, new_refresh_token
from nexus.db import utcnow
from nexus.errors import Unauthorized
from nexus.observability.metrics import AUTH_EVENTS
from nexus.users.models import User
from nexus.users.service import normalise_username

log = structlog.get_logger(__name__)

_BAD_LOGIN = "Incorrect username or password."
_BAD_REFRESH = "The refresh token is not valid; sign in again."


@dataclass
class AuthService:
    """Everything that creates or ends a session; each method commits its own transaction."""

    session: Session
    passwords: Passwords
    access_tokens: AccessTokens
    refresh_ttl_s: int

    def login(self, username: str, password: str, *, client_ip: str | None) -> TokenPair:
        """Check a username and password and start a new token family."""
        name = normalise_username(username)
        user = self.session.scalar(select(User).where(User.username == name)) if name else None
        valid = self.passwords.verify(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            reason = "unknown_user" if user is None else ("bad_password" if not valid else "disabled")
            record(
                self.session,
                AuditAction.LOGIN_FAILED,
                subject=username[:128],
                client_ip=client_ip,
                reason=reason,
            )
            self.session.commit()
            AUTH_EVENTS.labels("login_failed").inc()
            log.info("login_failed", reason=reason)
            raise Unauthorized(_BAD_LOGIN)
        if self.passwords.needs_rehash(user.password_hash):
            user.password_hash = self.passwords.hash(password)
        pair = self._issue(user, family_id=uuid.uuid4())
        record(
            self.session,
            AuditAction.LOGIN_SUCCEEDED,
            actor_id=user.id,
            subject=user.username,
            client_ip=client_ip,
        )
        self.session.commit()
        AUTH_EVENTS.labels("login_succeeded").inc()
        return pair

    def refresh(self, raw_token: str, *, client_ip: str | None) -> TokenPair:
        """Rotate a refresh token; a second use of one revokes its whole family."""
        token = self._find(raw_token)
        now = utcnow()
        if token is None or token.revoked_at is not None or token.expires_at <= now:
            AUTH_EVENTS.labels("refresh_rejected").inc()
            raise Unauthorized(_BAD_REFRESH)
        # Conditional update: of two concurrent refreshes with the same token, only one wins.
        claimed = self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == token.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None)
            )
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            revoke_family(self.session, token.family_id)
            record(
                self.session,
                AuditAction.REFRESH_REUSE_DETECTED,
                actor_id=token.user_id,
                client_ip=client_ip,
                family_id=str(token.family_id),
            )
            self.session.commit()
            AUTH_EVENTS.labels("refresh_reuse_detected").inc()
            log.warning("refresh_reuse_detected", family_id=str(token.family_id), user_id=str(token.user_id))
            raise Unauthorized(_BAD_REFRESH)
        user = self.session.get(User, token.user_id)
        if user is None or not user.is_active:
            revoke_family(self.session, token.family_id)
            self.session.commit()
            raise Unauthorized(_BAD_REFRESH)
        pair = self._issue(user, family_id=token.family_id)
        record(self.session, AuditAction.TOKEN_REFRESHED, actor_id=user.id, client_ip=client_ip)
        self.session.commit()
        AUTH_EVENTS.labels("token_refreshed").inc()
        return pair

    def logout(self, raw_token: str, user: User, *, client_ip: str | None) -> None:
        """Revoke the family of a refresh token that belongs to the signed-in user."""
        token = self._find(raw_token)
        if token is not None and token.user_id == user.id:
            revoke_family(self.session, token.family_id)
            record(
                self.session,
                AuditAction.TOKENS_REVOKED,
                actor_id=user.id,
                client_ip=client_ip,
                reason="logout",
                family_id=str(token.family_id),
            )
            AUTH_EVENTS.labels("logout").inc()
        self.session.commit()

    def _find(self, raw_token: str) -> RefreshToken | None:
        return self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(raw_token))
        )

    def _issue(self, user: User, *, family_id: uuid.UUID) -> TokenPair:
        raw = new_refresh_token()
        self.session.add(
            RefreshToken(
                family_id=family_id,
                user_id=user.id,
                token_hash=hash_refresh_token(raw),
                expires_at=utcnow() + timedelta(seconds=self.refresh_ttl_s),
            )
        )
        return TokenPair(
            access_token=self.access_tokens.issue(user),
            refresh_token=raw,
            expires_in=self.access_tokens.ttl_s,
            refresh_expires_in=self.refresh_ttl_s,
        )
