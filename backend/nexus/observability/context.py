"""Per-request context (request id, user id) shared by logs, audit rows and Sentry."""

from __future__ import annotations

from contextvars import ContextVar

import structlog

_request_id: ContextVar[str | None] = ContextVar("nexus_request_id", default=None)


def current_request_id() -> str | None:
    """Return the id of the request being served, if any."""
    return _request_id.get()


def bind_request(request_id: str, **values: object) -> None:
    """Start a request's context: its id and anything logs should carry."""
    _request_id.set(request_id)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id, **values)


def bind(**values: object) -> None:
    """Add values (user id, route) to the current request's log context."""
    structlog.contextvars.bind_contextvars(**values)


def clear_request() -> None:
    """End a request's context."""
    _request_id.set(None)
    structlog.contextvars.clear_contextvars()
