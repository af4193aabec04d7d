"""The user table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from nexus.db import Base, IdMixin, TimestampMixin, UTCDateTime, text_enum, utcnow


class Role(StrEnum):
    """What a user may do: admins manage users, analysts ask and upload, viewers read."""

    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"


class User(IdMixin, TimestampMixin, Base):
    """A person (or service account) who signs in."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(text_enum(Role, "user_role"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
