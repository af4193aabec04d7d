"""Route guards: the signed-in user and role checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from nexus.auth.tokens import AccessClaims
from nexus.deps import RuntimeDep, SessionDep
from nexus.errors import Forbidden, Unauthorized
from nexus.observability.context import bind
from nexus.users.models import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def access_claims(
    request: Request, runtime: RuntimeDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AccessClaims:
    """Verify the bearer token (the rate limiter may have done so already for this request)."""
    if not token:
        raise Unauthorized("A bearer token is required.")
    cached = getattr(request.state, "access_claims", None)
    if isinstance(cached, AccessClaims) and getattr(request.state, "access_token", None) == token:
        return cached
    return runtime.access_tokens.verify(token)


def current_user(
    request: Request, session: SessionDep, claims: Annotated[AccessClaims, Depends(access_claims)]
) -> User:
    """Return the signed-in user; deleted, disabled or since-re-passworded users are refused."""
    user = session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The access token is not valid.")
    if claims.issued_at < int(user.password_changed_at.timestamp()):
        raise Unauthorized("The password changed after this token was issued; sign in again.")
    request.state.user_id = str(user.id)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def authenticated(user: CurrentUser) -> User:
    """Require a signed-in user and put their id in the request's log context.

    Async on purpose: it runs on the event loop, so the worker threads that run sync endpoints
    afterwards inherit the binding (a binding made inside a thread would not come back).
    """
    bind(user_id=str(user.id))
    return user


def require_role(*roles: Role) -> Callable[[User], User]:
    """Return a dependency that admits only users with one of the roles."""
    allowed = frozenset(roles)

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden("Your role does not allow this.")
        return user

    return check


AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
