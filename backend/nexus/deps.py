"""Dependencies every domain uses: the runtime and a database session per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from nexus.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    """Return the app's runtime (async: a sync dependency would cost a thread hop per request)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """Yield a session; services commit their own work, anything uncommitted is rolled back.

    Creating a session does no I/O, so it happens on the event loop. Closing one that still holds a
    connection rolls it back (network I/O with PostgreSQL), so that happens in a worker thread.
    """
    session = runtime.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def client_ip(request: Request) -> str | None:
    """Return the client's address (uvicorn has applied trusted proxy headers already)."""
    return request.client.host if request.client else None
