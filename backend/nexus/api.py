"""The versioned API: public sign-in routes, and everything else behind a valid token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from nexus.auth import endpoints as auth_endpoints
from nexus.auth.deps import authenticated
from nexus.charts import endpoints as chart_endpoints
from nexus.conversations import endpoints as conversation_endpoints
from nexus.datasets import endpoints as dataset_endpoints
from nexus.documents import endpoints as document_endpoints
from nexus.errors import problems
from nexus.query import endpoints as query_endpoints
from nexus.sandbox import endpoints as sandbox_endpoints
from nexus.users import endpoints as user_endpoints

PUBLIC_PATHS = frozenset({"/api/v1/auth/token", "/api/v1/auth/refresh"})


def protected_routers() -> list[APIRouter]:
    """Return every domain router that needs a signed-in user (a new domain adds one line)."""
    return [
        auth_endpoints.router,
        user_endpoints.router,
        dataset_endpoints.router,
        document_endpoints.router,
        query_endpoints.router,
        sandbox_endpoints.router,
        chart_endpoints.router,
        conversation_endpoints.router,
    ]


def build_api_router() -> APIRouter:
    """Return /api/v1 with every route but sign-in and refresh requiring a token."""
    api = APIRouter(prefix="/api/v1", responses=problems(400, 413, 415, 422, 429, 500))
    api.include_router(auth_endpoints.public_router)
    # Authentication is a router dependency, so a route added to a protected router cannot forget it.
    protected = APIRouter(dependencies=[Depends(authenticated)], responses=problems(401))
    for router in protected_routers():
        protected.include_router(router)
    api.include_router(protected)
    return api
