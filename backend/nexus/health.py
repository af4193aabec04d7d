"""Health probes and the Prometheus scrape endpoint."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from nexus.auth.deps import oauth2_scheme
from nexus.deps import RuntimeDep, SessionDep
from nexus.errors import Forbidden, Unauthorized, problems
from nexus.migrate import is_current
from nexus.ratelimit import exempt
from nexus.routing import NexusRoute
from nexus.users.models import Role, User

router = APIRouter(tags=["ops"], route_class=NexusRoute)
log = structlog.get_logger(__name__)


@router.get("/health/live")
@exempt
def live() -> dict[str, str]:
    """Say the process is up."""
    return {"status": "ok"}


@router.get("/health/ready", responses={503: {"description": "A dependency is not ready (same body)."}})
@exempt
def ready(runtime: RuntimeDep) -> JSONResponse:
    """Say whether the database answers and its migrations are current."""
    checks: dict[str, Any] = {}
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        checks["migrations"] = "current" if is_current(runtime.engine) else "pending"
    except SQLAlchemyError as error:
        log.warning("readiness_database_failed", error=type(error).__name__)
        checks["database"] = "unavailable"
        checks["migrations"] = "unknown"
    ok = checks["database"] == "ok" and checks["migrations"] == "current"
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


def _metrics_access(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> None:
    if not token:
        raise Unauthorized("A bearer token is required: NEXUS_METRICS_TOKEN or an admin's access token.")
    configured = runtime.settings.observability.metrics_token
    if configured is not None and hmac.compare_digest(token.encode(), configured.get_secret_value().encode()):
        return
    claims = runtime.access_tokens.verify(token)
    user = session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The access token is not valid.")
    if user.role is not Role.ADMIN:
        raise Forbidden("Only admins and the metrics token may read metrics.")


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(_metrics_access)],
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text format.",
        },
        **problems(401, 403, 429),
    },
)
@exempt
def metrics() -> Response:
    """Expose Prometheus metrics (needs the metrics token or an admin token)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
