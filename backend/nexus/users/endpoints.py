"""The signed-in user, and user management for admins."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from nexus.auth.deps import AdminUser, CurrentUser
from nexus.deps import RuntimeDep, SessionDep
from nexus.errors import problem
from nexus.routing import NexusRoute
from nexus.users.models import User
from nexus.users.schemas import PasswordChange, UserCreate, UserPage, UserRead, UserUpdate
from nexus.users.service import UserService

router = APIRouter(prefix="/users", tags=["users"], route_class=NexusRoute)

_ADMIN_ONLY = problem(403, "Only admins may do this.")
_NOT_FOUND = problem(404, "No such user.")
_LAST_ADMIN = problem(409, "Would leave no active admin.")


def _service(session: SessionDep, runtime: RuntimeDep) -> UserService:
    return UserService(session, runtime.passwords, runtime.settings.auth.password_min_length)


UserServiceDep = Annotated[UserService, Depends(_service)]


@router.get("/me", response_model=UserRead)
async def read_me(user: CurrentUser) -> User:
    """Return the signed-in user."""
    return user


@router.post(
    "/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=problem(401, "Wrong current password.")
)
def change_my_password(body: PasswordChange, user: CurrentUser, service: UserServiceDep) -> None:
    """Change your own password; every other session of yours is signed out."""
    service.change_own_password(user, body.current_password, body.new_password)


@router.get("", response_model=UserPage, responses=_ADMIN_ONLY)
def list_users(
    _admin: AdminUser,
    service: UserServiceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> UserPage:
    """List users, oldest first."""
    users, total = service.page(limit=limit, offset=offset)
    return UserPage(
        items=[UserRead.model_validate(u) for u in users], total=total, limit=limit, offset=offset
    )


@router.post(
    "",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses={**_ADMIN_ONLY, **problem(409, "The username is taken.")},
)
def create_user(body: UserCreate, admin: AdminUser, service: UserServiceDep) -> User:
    """Create a user."""
    return service.create(body.username, body.password, body.role, actor=admin)


@router.patch(
    "/{user_id}",
    response_model=UserRead,
    responses={**_ADMIN_ONLY, **_NOT_FOUND, **_LAST_ADMIN},
)
def update_user(user_id: uuid.UUID, body: UserUpdate, admin: AdminUser, service: UserServiceDep) -> User:
    """Change a user's role, active flag or password."""
    return service.update(user_id, body, actor=admin)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_ADMIN_ONLY, **_NOT_FOUND, **_LAST_ADMIN},
)
def delete_user(user_id: uuid.UUID, admin: AdminUser, service: UserServiceDep, runtime: RuntimeDep) -> None:
    """Delete a user, their documents' passages too, and sign them out everywhere."""
    service.delete(user_id, actor=admin)
    # Rows go with the user (foreign keys cascade); the vector store is not the database.
    runtime.rag.store.delete_owner(user_id)
