"""Queries on refresh tokens shared by the auth and user services."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlalchemy.orm import Session

from nexus.auth.models import RefreshToken
from nexus.db import utcnow


def revoke_all_refresh_tokens(session: Session, user_id: uuid.UUID) -> None:
    """Revoke every live refresh token of a user (password change, disable); the caller commits."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_family(session: Session, family_id: uuid.UUID) -> None:
    """Revoke every live token of one sign-in; the caller commits."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
