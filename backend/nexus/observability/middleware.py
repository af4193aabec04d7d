"""Pure-ASGI middleware: request context, access log, metrics, the last-resort 500, and body limits."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import sentry_sdk
import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nexus.errors import PayloadTooLarge, problem_response
from nexus.observability.context import bind_request, clear_request
from nexus.observability.metrics import HTTP_DURATION, HTTP_IN_PROGRESS, HTTP_REQUESTS
from nexus.observability.routes import route_template

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

log = structlog.get_logger("nexus.access")


def request_id_from(headers: Headers) -> str:
    """Accept a client's X-Request-ID when it is short and plain, else make one."""
    given = headers.get("x-request-id", "")
    return given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex


class RequestContextMiddleware:
    """Give each request an id, log and measure it, and turn any escaped exception into a bare 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request inside its context."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope))
        scope.setdefault("state", {})["request_id"] = request_id
        bind_request(request_id, method=scope["method"])
        method = scope["method"]
        status = 500
        started = False
        is_api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if is_api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        HTTP_IN_PROGRESS.labels(method).inc()
        begin = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as error:  # noqa: BLE001 - the one place that must catch everything
            log.error("unhandled_error", exc_info=error)
            sentry_sdk.capture_exception(error)
            if not started:
                response = problem_response(
                    request_id,
                    status=500,
                    type_slug="internal-error",
                    detail="An unexpected error occurred; it has been logged with this request's id.",
                    instance=scope["path"],
                )
                await response(scope, receive, send_with_headers)
            status = 500
        finally:
            elapsed = time.perf_counter() - begin
            HTTP_IN_PROGRESS.labels(method).dec()
            route = route_template(scope.get("app", self.app), scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed)
            # The user is known only after authentication, which may run in a worker thread whose
            # context changes do not come back here; request.state (the scope's "state") does.
            user_id = scope.get("state", {}).get("user_id")
            extra = {"user_id": user_id} if user_id else {}
            log.info("request", route=route, status=status, duration_ms=round(elapsed * 1000, 2), **extra)
            clear_request()


class BodySizeLimitMiddleware:
    """Refuse bodies over a limit, by Content-Length up front and by counting streamed bytes.

    Routes that stream large uploads register a bigger limit for their path prefix in ``overrides``.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting body reader."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message: dict[str, Any] = dict(await receive())
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes.")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to the cut-off body is replaced by the 413 below
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLarge:
            pass
        if exceeded and not started:
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            scope.get("state", {}).get("request_id"),
            status=413,
            type_slug=PayloadTooLarge.type_slug,
            detail=f"The request body is over the limit of {limit} bytes.",
            instance=scope["path"],
        )
        await response(scope, receive, send)
