"""Dependencies every domain uses: the runtime and a database session per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from nexus.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    """Return the app's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """Yield a session; services commit their own work, anything uncommitted is rolled back."""
    session = runtime.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def client_ip(request: Request) -> str | None:
    """Return the client's address (uvicorn has applied trusted proxy headers already)."""
    return request.client.host if request.client else None
