"""Request and response bodies of the user routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from nexus.auth.passwords import MAX_PASSWORD_LENGTH
from nexus.users.models import Role

USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}$"

Username = Annotated[
    str,
    Field(
        min_length=3,
        max_length=64,
        pattern=USERNAME_PATTERN,
        description="3-64 characters: letters, digits and . _ @ + -; stored in lower case.",
        examples=["ada.lovelace"],
    ),
]
Password = Annotated[
    str, Field(min_length=8, max_length=MAX_PASSWORD_LENGTH, description="At least 12 characters by default.")
]


class UserRead(BaseModel):
    """A user as the API shows it (never the hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    username: str
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class UserCreate(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    password: Password
    role: Role = Role.ANALYST


class UserUpdate(BaseModel):
    """Changes to a user; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    is_active: bool | None = None
    password: Password | None = None


class PasswordChange(BaseModel):
    """A user's change of their own password."""

    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)
    new_password: Password


class UserPage(BaseModel):
    """One page of users."""

    items: list[UserRead]
    total: int
    limit: int
    offset: int
