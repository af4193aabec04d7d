"""Errors, and the one handler that turns every failure into RFC 9457 problem+json.

    NexusError                 status, title, type slug; detail for the client
    ├── BadRequest             400
    │   └── MalformedBody      400  body is not valid JSON / UTF-8
    ├── Unauthorized           401  with WWW-Authenticate: Bearer
    ├── Forbidden              403
    ├── NotFound               404  also for things that exist but belong to someone else
    ├── Conflict               409
    ├── PayloadTooLarge        413
    ├── UnprocessableContent   422  valid shape, unacceptable value (e.g. a short password)
    ├── UnsupportedMediaType   415
    ├── RateLimited            429  with Retry-After
    ├── ServiceUnavailable     503
    └── QueryTimeout           504  a query ran past NEXUS_QUERY_TIMEOUT_S and was stopped

Validation errors (422), Starlette's 404/405 and anything unexpected (500) are mapped by the
handlers below; the 500 body never carries a stack trace.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, ClassVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://nexus.dev/problems/"

log = structlog.get_logger(__name__)


class NexusError(Exception):
    """Base of every error the API answers on purpose."""

    status: ClassVar[int] = 500
    type_slug: ClassVar[str] = "internal-error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    @property
    def title(self) -> str:
        """Return the short, stable summary of this kind of problem."""
        return HTTPStatus(self.status).phrase


class BadRequest(NexusError):
    """The request is wrong in a way validation cannot say."""

    status = 400
    type_slug = "bad-request"


class MalformedBody(BadRequest):
    """The body is not parseable (bad JSON, bad encoding)."""

    type_slug = "malformed-body"


class Unauthorized(NexusError):
    """No credentials, or credentials that do not hold."""

    status = 401
    type_slug = "unauthorized"

    def __init__(self, detail: str = "Authentication required.", **extra: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(NexusError):
    """Authenticated, but the role does not allow this."""

    status = 403
    type_slug = "forbidden"


class NotFound(NexusError):
    """Nothing there, or nothing this user may see."""

    status = 404
    type_slug = "not-found"


class Conflict(NexusError):
    """The change clashes with the current state."""

    status = 409
    type_slug = "conflict"


class PayloadTooLarge(NexusError):
    """The body is over the configured limit."""

    status = 413
    type_slug = "payload-too-large"


class UnsupportedMediaType(NexusError):
    """The body's content type is not one this route reads."""

    status = 415
    type_slug = "unsupported-media-type"


class UnprocessableContent(NexusError):
    """The payload has the right shape but a value that is not acceptable."""

    status = 422
    type_slug = "validation-error"


class RateLimited(NexusError):
    """Too many requests for this user or client."""

    status = 429
    type_slug = "rate-limited"


class ServiceUnavailable(NexusError):
    """A dependency (database, model server) is not answering."""

    status = 503
    type_slug = "service-unavailable"


class QueryTimeout(NexusError):
    """A query ran past its time limit and was interrupted.

    504 rather than 408: 408 tells clients the request itself was slow to arrive, and HTTP clients may
    repeat it on their own, which would run the same heavy query again.
    """

    status = 504
    type_slug = "query-timeout"


class Problem(BaseModel):
    """An RFC 9457 problem document, as every error is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str | None = None


_PROBLEM_SCHEMA = Problem.model_json_schema()

ResponsesDoc = dict[int | str, dict[str, Any]]


def problem(status: int, description: str | None = None) -> ResponsesDoc:
    """Document one problem+json response of a route in OpenAPI."""
    return {
        status: {
            "description": description or HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}},
        }
    }


def problems(*statuses: int) -> ResponsesDoc:
    """Document several problem+json responses with their standard descriptions."""
    documented: ResponsesDoc = {}
    for status in statuses:
        documented.update(problem(status))
    return documented


def problem_response(
    request_id: str | None,
    *,
    status: int,
    type_slug: str,
    detail: str,
    instance: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem+json response carrying the request id."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_slug,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
        **extra,
    }
    response_headers = dict(headers or {})
    if request_id:
        response_headers["X-Request-ID"] = request_id
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=response_headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def handle_nexus_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a NexusError."""
    assert isinstance(exc, NexusError)
    return problem_response(
        _request_id(request),
        status=exc.status,
        type_slug=exc.type_slug,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        **exc.extra,
    )


async def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    """Answer Starlette's own errors (unknown route, wrong method) as problems."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = "No such resource."
    slug = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    return problem_response(
        _request_id(request),
        status=exc.status_code,
        type_slug=slug,
        detail=detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


def _public_error(error: Any) -> dict[str, Any]:
    # Never echo the input back: it may be a password or a token.
    return {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": error.get("type")}


async def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer payload validation errors: 400 for unreadable bodies, 422 otherwise."""
    assert isinstance(exc, RequestValidationError)
    errors = [_public_error(error) for error in exc.errors()]
    if any(error["type"] in {"json_invalid", "json_type"} for error in errors):
        return problem_response(
            _request_id(request),
            status=400,
            type_slug=MalformedBody.type_slug,
            detail="The request body is not valid JSON.",
            instance=request.url.path,
        )
    return problem_response(
        _request_id(request),
        status=422,
        type_slug="validation-error",
        detail="The request does not match the expected shape; see `errors`.",
        instance=request.url.path,
        errors=errors,
    )


async def handle_data_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a value the database refuses to store (e.g. a NUL byte for PostgreSQL) as the client's error."""
    log.warning("database_refused_value", error=type(getattr(exc, "orig", exc)).__name__)
    return problem_response(
        _request_id(request),
        status=400,
        type_slug=BadRequest.type_slug,
        detail="The request contains a value that cannot be stored.",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on an app."""
    app.add_exception_handler(NexusError, handle_nexus_error)
    app.add_exception_handler(DataError, handle_data_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
