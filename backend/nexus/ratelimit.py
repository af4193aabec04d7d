"""Rate limits with slowapi: per user (token subject) where known, else per client address.

The general limit (``NEXUS_RATE_LIMIT_DEFAULT``) is an application-wide limit, checked by slowapi's
ASGI middleware for every route but health and metrics. The token endpoint has its own, stricter
limit (``NEXUS_RATE_LIMIT_TOKEN``) per client address, checked by a dependency on the same slowapi
storage. Storage is ``memory://`` by default and ``redis://...`` to share counts between replicas.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from limits import parse
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from slowapi.middleware import _ASGIMiddlewareResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nexus.config import LimitSettings
from nexus.deps import RuntimeDep, client_ip
from nexus.errors import RateLimited, problem_response
from nexus.observability.metrics import RATE_LIMITED
from nexus.observability.routes import route_template

_EXEMPT_ATTRIBUTE = "_nexus_rate_limit_exempt"


def rate_limit_key(request: Request) -> str:
    """Return ``user:<id>`` for a request with a valid access token, else ``ip:<address>``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        runtime = request.app.state.runtime
        try:
            claims = runtime.access_tokens.verify(token.strip())
        except Exception:  # noqa: BLE001 - an invalid token is simply not a user
            pass
        else:
            request.state.access_claims = claims
            request.state.access_token = token.strip()
            return f"user:{claims.user_id}"
    return f"ip:{client_ip(request) or 'unknown'}"


def build_limiter(settings: LimitSettings) -> Limiter:
    """Create the app's limiter on the configured storage."""
    return Limiter(
        key_func=rate_limit_key,
        application_limits=[settings.rate_limit_default],
        storage_uri=settings.rate_limit_storage,
        strategy="moving-window",
        key_prefix=settings.rate_limit_key_prefix,
        enabled=settings.rate_limit_enabled,
        headers_enabled=False,
    )


def exempt(endpoint: Any) -> Any:
    """Mark an endpoint (health, metrics) as outside the general limit."""
    setattr(endpoint, _EXEMPT_ATTRIBUTE, True)
    return endpoint


def apply_exemptions(app: FastAPI, limiter: Limiter) -> None:
    """Tell the limiter which of the app's endpoints are exempt."""
    for route in app.routes:
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None and getattr(endpoint, _EXEMPT_ATTRIBUTE, False):
            limiter.exempt(endpoint)  # type: ignore[no-untyped-call]


def _retry_after(limiter: Limiter, limit: Any, *identifiers: str) -> int:
    try:
        stats = limiter.limiter.get_window_stats(limit, *identifiers)
        return max(1, int(stats.reset_time - time.time()) + 1)
    except Exception:  # noqa: BLE001 - the header is advice; never fail the 429 over it
        return 60


def check_token_rate_limit(request: Request, runtime: RuntimeDep) -> None:
    """Count a sign-in attempt against the strict per-address limit."""
    limiter: Limiter = request.app.state.limiter
    if not limiter.enabled:
        return
    item = parse(runtime.settings.limits.rate_limit_token)
    prefix = runtime.settings.limits.rate_limit_key_prefix
    identifiers = (prefix, "auth-token", client_ip(request) or "unknown")
    if not limiter.limiter.hit(item, *identifiers):
        RATE_LIMITED.labels(route_template(request.app, request.scope)).inc()
        raise RateLimited(
            f"Too many sign-in attempts; the limit is {item}.",
            headers={"Retry-After": str(_retry_after(limiter, item, *identifiers))},
        )


async def handle_rate_limit_exceeded(request: Request, exc: Exception) -> JSONResponse:
    """Answer slowapi's RateLimitExceeded as problem+json with Retry-After."""
    assert isinstance(exc, RateLimitExceeded)
    limiter: Limiter = request.app.state.limiter
    retry = 60
    current = getattr(request.state, "view_rate_limit", None)
    if current is not None:
        retry = _retry_after(limiter, current[0], *current[1])
    RATE_LIMITED.labels(route_template(request.app, request.scope)).inc()
    return problem_response(
        getattr(request.state, "request_id", None),
        status=429,
        type_slug=RateLimited.type_slug,
        detail=f"Too many requests; the limit is {exc.detail}.",
        instance=request.url.path,
        headers={"Retry-After": str(retry)},
    )


class _OnceResponder(_ASGIMiddlewareResponder):
    """slowapi's responder, sending ``http.response.start`` once even for streamed bodies.

    slowapi 0.1.10 holds the start message back to add rate-limit headers, then sends it again before
    every body chunk, which breaks streaming responses (Server-Sent Events) with "multiple
    http.response.start messages".
    """

    started = False

    async def send_wrapper(self, message: Message) -> None:
        """Pass body chunks after the first straight through."""
        if message["type"] == "http.response.body" and self.started:
            await self.send(message)
            return
        if message["type"] == "http.response.body":
            self.started = True
        await super().send_wrapper(message)


class RateLimitMiddleware:
    """The application-wide rate limit (slowapi's ASGI middleware, safe for streamed responses)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the limit for HTTP requests; pass anything else through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await _OnceResponder(self.app)(scope, receive, send)
