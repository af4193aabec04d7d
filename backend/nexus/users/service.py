"""Create, change and remove users; every change is audited in the same transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nexus.audit.service import AuditAction, record
from nexus.auth.passwords import Passwords
from nexus.auth.repository import revoke_all_refresh_tokens
from nexus.db import utcnow
from nexus.errors import Conflict, NotFound, Unauthorized, UnprocessableContent
from nexus.users.models import Role, User
from nexus.users.schemas import UserUpdate

MAX_USERNAME_LENGTH = 64


def normalise_username(username: str) -> str:
    """Return the stored form of a username (trimmed, lower case), or '' when it cannot be one."""
    name = username.strip().lower()
    # NUL cannot be stored in PostgreSQL text, and no valid username has one.
    return name if 0 < len(name) <= MAX_USERNAME_LENGTH and "\x00" not in name else ""


@dataclass
class UserService:
    """User management for admins, the first-run bootstrap and the CLI."""

    session: Session
    passwords: Passwords
    password_min_length: int

    def create(self, username: str, password: str, role: Role, *, actor: User | None = None) -> User:
        """Create a user, or raise Conflict when the name is taken."""
        self._check_password(password)
        name = normalise_username(username)
        if self.session.scalar(select(User.id).where(User.username == name)) is not None:
            raise Conflict(f"A user named {name!r} already exists.")
        user = User(username=name, password_hash=self.passwords.hash(password), role=role, is_active=True)
        self.session.add(user)
        try:
            self.session.flush()
        except IntegrityError as error:  # a concurrent create won the race
            self.session.rollback()
            raise Conflict(f"A user named {name!r} already exists.") from error
        record(
            self.session,
            AuditAction.USER_CREATED,
            actor_id=actor.id if actor else None,
            subject=str(user.id),
            username=name,
            role=role.value,
        )
        self.session.commit()
        return user

    def get(self, user_id: uuid.UUID) -> User:
        """Return a user or raise NotFound."""
        user = self.session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        return user

    def page(self, *, limit: int, offset: int) -> tuple[list[User], int]:
        """Return one page of users, oldest first, and the total count."""
        total = self.session.scalar(select(func.count()).select_from(User)) or 0
        users = self.session.scalars(
            select(User).order_by(User.created_at, User.id).limit(limit).offset(offset)
        )
        return list(users), total

    def update(self, user_id: uuid.UUID, changes: UserUpdate, *, actor: User) -> User:
        """Change role, active flag or password; the last active admin cannot be demoted or disabled."""
        user = self.get(user_id)
        demotes = changes.role is not None and changes.role is not Role.ADMIN
        disables = changes.is_active is False
        if user.role is Role.ADMIN and user.is_active and (demotes or disables):
            self._keep_one_admin(user)
        changed: list[str] = []
        if changes.role is not None and changes.role is not user.role:
            user.role = changes.role
            changed.append("role")
        if changes.is_active is not None and changes.is_active != user.is_active:
            user.is_active = changes.is_active
            changed.append("is_active")
        if changes.password is not None:
            self._set_password(user, changes.password)
            changed.append("password")
        if "password" in changed or not user.is_active:
            revoke_all_refresh_tokens(self.session, user.id)
        if changed:
            record(
                self.session,
                AuditAction.USER_UPDATED,
                actor_id=actor.id,
                subject=str(user.id),
                fields=changed,
            )
        self.session.commit()
        return user

    def delete(self, user_id: uuid.UUID, *, actor: User) -> None:
        """Delete a user and their tokens; the last active admin cannot be deleted."""
        user = self.get(user_id)
        if user.role is Role.ADMIN and user.is_active:
            self._keep_one_admin(user)
        record(
            self.session,
            AuditAction.USER_DELETED,
            actor_id=actor.id,
            subject=str(user.id),
            username=user.username,
        )
        self.session.delete(user)
        self.session.commit()

    def change_own_password(self, user: User, current: str, new: str) -> None:
        """Change the signed-in user's password after checking the current one."""
        if not self.passwords.verify(user.password_hash, current):
            raise Unauthorized("The current password is not correct.")
        self._set_password(user, new)
        revoke_all_refresh_tokens(self.session, user.id)
        record(self.session, AuditAction.PASSWORD_CHANGED, actor_id=user.id, subject=str(user.id))
        self.session.commit()

    def count(self) -> int:
        """Return how many users exist."""
        return self.session.scalar(select(func.count()).select_from(User)) or 0

    def _set_password(self, user: User, password: str) -> None:
        self._check_password(password)
        user.password_hash = self.passwords.hash(password)
        user.password_changed_at = utcnow()

    def _check_password(self, password: str) -> None:
        if len(password) < self.password_min_length:
            raise UnprocessableContent(
                f"The password must have at least {self.password_min_length} characters."
            )

    def _keep_one_admin(self, user: User) -> None:
        others = self.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN, User.is_active.is_(True), User.id != user.id)
        )
        if not others:
            raise Conflict("This is the last active admin; make another user admin first.")
