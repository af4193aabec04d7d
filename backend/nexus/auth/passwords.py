"""Password hashing with argon2id; parameters come from settings so tests can run cheaply."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from nexus.config import AuthSettings

MAX_PASSWORD_LENGTH = 1024


class Passwords:
    """Hash and verify passwords; verification costs the same whether or not the user exists."""

    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._dummy_hash = self._hasher.hash("not a real password, only spends the same time")

    def hash(self, password: str) -> str:
        """Return an argon2id hash of a password."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password against a hash; with no hash, spend the time anyway and fail."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return (
                self._hasher.verify(password_hash or self._dummy_hash, password) and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether a hash was made with weaker parameters than the current ones."""
        return self._hasher.check_needs_rehash(password_hash)
