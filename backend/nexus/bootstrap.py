"""First start: make sure someone can sign in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from nexus.runtime import Runtime
from nexus.users.models import Role
from nexus.users.service import UserService

DEFAULT_ADMIN = "admin"


@dataclass(frozen=True)
class FirstAdmin:
    """The admin created on first start; ``generated_password`` is set only when we made it up."""

    username: str
    generated_password: str | None


def ensure_first_admin(runtime: Runtime) -> FirstAdmin | None:
    """Create the first admin when there are no users; return it, or None when users exist.

    Uses ``NEXUS_ADMIN_USERNAME`` / ``NEXUS_ADMIN_PASSWORD`` when set. Otherwise, in development, a
    password is generated for the caller to print once; in production nothing is generated (a password
    in a log aggregator is a leak), and None is returned.
    """
    auth = runtime.settings.auth
    with runtime.sessions() as session:
        service = UserService(session, runtime.passwords, auth.password_min_length)
        if service.count() > 0:
            return None
        username = auth.admin_username or DEFAULT_ADMIN
        if auth.admin_password is not None:
            service.create(username, auth.admin_password.get_secret_value(), Role.ADMIN)
            return FirstAdmin(username=username.lower(), generated_password=None)
        if runtime.settings.is_production:
            return None
        password = secrets.token_urlsafe(18)
        service.create(username, password, Role.ADMIN)
        return FirstAdmin(username=username.lower(), generated_password=password)
