"""Refresh tokens: one row per issued token, grouped in families that rotate together."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from nexus.db import Base, IdMixin, UTCDateTime, utcnow


class RefreshToken(IdMixin, Base):
    """An opaque refresh token; only its SHA-256 is stored.

    A sign-in starts a family. Each refresh marks the presented token used and issues the next one in
    the same family. Presenting a used token again means it was stolen (or replayed), so the whole
    family is revoked.
    """

    __tablename__ = "refresh_tokens"

    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
