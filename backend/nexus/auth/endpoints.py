"""Sign in, refresh, sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status

from nexus.auth.deps import CurrentUser
from nexus.auth.schemas import RefreshRequest, TokenPair
from nexus.auth.service import AuthService
from nexus.deps import RuntimeDep, SessionDep, client_ip
from nexus.errors import Unauthorized, problem
from nexus.ratelimit import check_token_rate_limit
from nexus.routing import NexusRoute

public_router = APIRouter(prefix="/auth", tags=["auth"], route_class=NexusRoute)
router = APIRouter(prefix="/auth", tags=["auth"], route_class=NexusRoute)

_UNAUTHORIZED = problem(401, "Wrong credentials or an invalid token.")


def _service(session: SessionDep, runtime: RuntimeDep) -> AuthService:
    return AuthService(
        session=session,
        passwords=runtime.passwords,
        access_tokens=runtime.access_tokens,
        refresh_ttl_s=runtime.settings.auth.refresh_token_ttl_s,
    )


AuthServiceDep = Annotated[AuthService, Depends(_service)]


@public_router.post(
    "/token",
    response_model=TokenPair,
    dependencies=[Depends(check_token_rate_limit)],
    responses={**_UNAUTHORIZED, **problem(429, "Too many sign-in attempts.")},
)
def issue_token(
    request: Request,
    service: AuthServiceDep,
    # Defaults of "": an empty field is a failed sign-in (401), not a malformed request.
    username: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> TokenPair:
    """Sign in with a username and password (OAuth2 password form)."""
    if not username or not password:
        raise Unauthorized("Incorrect username or password.")
    return service.login(username, password, client_ip=client_ip(request))


@public_router.post("/refresh", response_model=TokenPair, responses=_UNAUTHORIZED)
def refresh_token(request: Request, body: RefreshRequest, service: AuthServiceDep) -> TokenPair:
    """Exchange a refresh token for a new pair; each refresh token works once."""
    return service.refresh(body.refresh_token, client_ip=client_ip(request))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_UNAUTHORIZED)
def logout(request: Request, body: RefreshRequest, user: CurrentUser, service: AuthServiceDep) -> None:
    """Sign out: revoke the refresh token's whole family."""
    service.logout(body.refresh_token, user, client_ip=client_ip(request))
