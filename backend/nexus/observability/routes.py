"""Route templates (``/api/v1/users/{user_id}``), the only path form used in metrics and logs."""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Scope

from nexus.observability.metrics import UNMATCHED_ROUTE


def route_template(app: ASGIApp, scope: Scope) -> str:
    """Return the template of the route serving a request, matching it if routing has not run yet."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    for candidate in getattr(app, "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE
