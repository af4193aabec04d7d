"""Build the FastAPI app: runtime, middleware, routers, error handlers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute
from slowapi.errors import RateLimitExceeded
from starlette.middleware import Middleware

from nexus import __version__
from nexus.api import build_api_router
from nexus.config import Settings, get_settings
from nexus.datasets.endpoints import UPLOAD_PATH_PREFIX
from nexus.documents.endpoints import SEARCH_PATH
from nexus.documents.endpoints import UPLOAD_PATH as DOCUMENT_UPLOAD_PATH
from nexus.errors import install_error_handlers
from nexus.health import router as health_router
from nexus.observability.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from nexus.observability.sentry import init_sentry
from nexus.ratelimit import (
    RateLimitMiddleware,
    apply_exemptions,
    build_limiter,
    handle_rate_limit_exceeded,
)
from nexus.runtime import Runtime, build_runtime


def _operation_id(route: APIRoute) -> str:
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Create the app; raises ConfigurationError when the settings cannot be served."""
    settings = settings or (runtime.settings if runtime else get_settings())
    runtime = runtime or build_runtime(settings)
    init_sentry(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.close()

    middleware = [Middleware(RequestContextMiddleware)]
    if settings.server.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.server.cors_origins,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID", "Retry-After"],
            )
        )
    middleware += [
        Middleware(
            BodySizeLimitMiddleware,
            max_bytes=settings.limits.max_request_bytes,
            # Uploads stream to disk and enforce NEXUS_MAX_UPLOAD_MB on the file itself; allow for
            # the multipart framing around it here. The first matching prefix wins: document search
            # (JSON) keeps the ordinary limit though it sits under the document upload path.
            overrides={
                UPLOAD_PATH_PREFIX: settings.datasets.max_upload_mb * 1_048_576 + 1_048_576,
                SEARCH_PATH: settings.limits.max_request_bytes,
                DOCUMENT_UPLOAD_PATH: settings.documents.max_document_mb * 1_048_576 + 1_048_576,
            },
        ),
        Middleware(RateLimitMiddleware),
    ]
    app = FastAPI(
        title="Nexus",
        version=__version__,
        description="Ask questions of your own data. Every route but sign-in needs a bearer token.",
        lifespan=lifespan,
        middleware=middleware,
        generate_unique_id_function=_operation_id,
    )
    app.state.runtime = runtime
    app.state.limiter = build_limiter(settings.limits)
    install_error_handlers(app)
    app.add_exception_handler(RateLimitExceeded, handle_rate_limit_exceeded)
    app.include_router(health_router)
    app.include_router(build_api_router())
    apply_exemptions(app, app.state.limiter)
    return app
