"""The route class every router uses: it refuses bodies of a content type the route does not read."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, params
from fastapi.routing import APIRoute

from nexus.errors import UnsupportedMediaType

_JSON = ("application/json",)
_FORM = ("application/x-www-form-urlencoded", "multipart/form-data")
_MULTIPART = ("multipart/form-data",)


class NexusRoute(APIRoute):
    """An APIRoute that answers 415 problem+json for a body in the wrong content type."""

    def _accepted_media_types(self) -> tuple[str, ...]:
        body_params = self.dependant.body_params
        if not body_params:
            return ()
        info = body_params[0].field_info
        if isinstance(info, params.File):
            return _MULTIPART
        if isinstance(info, params.Form):
            return _FORM
        return _JSON

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler with the content-type check."""
        handler = super().get_route_handler()
        accepted = self._accepted_media_types()
        if not accepted:
            return handler

        async def checked(request: Request) -> Response:
            has_body = (
                request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
            )
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            is_json_like = (
                accepted is _JSON and media_type.startswith("application/") and media_type.endswith("+json")
            )
            if has_body and media_type not in accepted and not is_json_like:
                raise UnsupportedMediaType(
                    f"This route reads {' or '.join(accepted)}, not {media_type or 'an untyped body'}."
                )
            return await handler(request)

        return checked
