"""The user table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from nexus.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


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
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="user_role",
            native_enum=False,
            length=16,
            values_callable=lambda e: [r.value for r in e],
        )
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
