"""Property-based conformance of the whole API to its own OpenAPI document (schemathesis).

Every operation in the app's OpenAPI document is called with generated inputs, valid and invalid,
signed in as an admin; every response must be no 5xx, have a documented status code and content
type, a body that matches the documented schema, and the documented headers. Rate limits are off so
the run is not cut short by 429s. The run is bounded and deterministic: ``max_examples`` per
operation, ``derandomize=True``, no example database, a fixed schemathesis seed.

How it is wired: the schema is loaded at import time from the document of an app that is never
served (so pytest gets one test per operation), and each case is sent to a fresh, migrated app from
``api_factory`` (one per operation) with ``app=``. ``schemathesis.pytest.from_fixture`` would be the
natural loader, but schemathesis 4.32.5's lazy loader sets ``Function._nodeid``, which pytest 9
no longer has.

Keeping the admin's token meaningful for the whole run:

* ``POST /api/v1/users/me/password`` is the one operation that can invalidate a token: a successful
  change refuses every token issued before it. It is still fuzzed, but as a throwaway user whose
  password is reset and who signs in afresh before every case; the admin's token is never sent to
  it, so whatever the fuzzer does there, the admin's token stays valid.
* ``PATCH``/``DELETE /api/v1/users/{user_id}`` could only demote, disable, re-password or delete the
  admin given its UUID, which is not in the schema and which the fuzzer cannot guess; the service
  refuses to remove the last active admin anyway (409, documented).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from hypothesis import HealthCheck, settings
from pydantic import BaseModel
from schemathesis import Case
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.openapi.checks import JsonSchemaError, UndefinedContentType, UndefinedStatusCode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from nexus.main import create_app
from nexus.runtime import build_runtime
from nexus.users.models import Role
from nexus.users.schemas import UserUpdate
from nexus.users.service import UserService
from tests.fixtures.app import PASSWORD, Api, ApiFactory, make_settings

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
PASSWORD_CHANGE = ("POST", "/api/v1/users/me/password")
NO_RATE_LIMITS = {"rate_limit_enabled": False}
SEED = 20_240_601
MAX_EXAMPLES = 30


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict({"seed": SEED, "generation": {"deterministic": True}})


def _openapi_document() -> dict[str, Any]:
    """Return the app's OpenAPI document; the app is built in a scratch dir and never served."""
    with tempfile.TemporaryDirectory() as scratch:
        settings = make_settings(Path(scratch), limits=NO_RATE_LIMITS)
        runtime = build_runtime(settings)
        try:
            return create_app(settings, runtime=runtime).openapi()
        finally:
            runtime.close()


schema = schemathesis.openapi.from_dict(_openapi_document(), config=_config())


class Harness:
    """A migrated app without rate limits, and the credentials each case is sent with."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.admin = api.add_user("fuzz-admin", Role.ADMIN)
        self.admin_headers = {"Authorization": f"Bearer {api.login('fuzz-admin')['access_token']}"}
        self.password_user = api.add_user("fuzz-password")
        # The first document upload or search in a process loads the embedding model (6-8 s), which
        # on a busy machine passes schemathesis's 10 s request timeout: load it before the clock runs.
        api.runtime.rag.embedder.embed(["warm up"])

    def headers_for(self, case: Case) -> dict[str, str]:
        """Return the admin's bearer headers; for a password change, a fresh throwaway user's."""
        if (case.method.upper(), case.path) != PASSWORD_CHANGE:
            return self.admin_headers
        runtime = self.api.runtime
        with runtime.sessions() as session:
            service = UserService(session, runtime.passwords, runtime.settings.auth.password_min_length)
            service.update(self.password_user.id, UserUpdate(password=PASSWORD), actor=self.admin)
        return {"Authorization": f"Bearer {self.api.login('fuzz-password')['access_token']}"}


@pytest.fixture
def harness(api_factory: ApiFactory) -> Harness:
    return Harness(api_factory(limits=NO_RATE_LIMITS))


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # One app per operation, shared by its examples on purpose (the admin's token stays valid).
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@schema.parametrize()
def test_api_conforms_to_its_openapi_schema(case: Case, harness: Harness) -> None:
    case.call_and_validate(headers=harness.headers_for(case), checks=CHECKS, app=harness.api.app)


# The harness can fail: the same checks, run the same way, against a deliberately broken app.


class Thing(BaseModel):
    name: str
    size: int


def _broken_app() -> FastAPI:
    app = FastAPI()

    # A Response bypasses response_model validation, so each route answers what its schema does not.
    @app.get("/bad-body", response_model=Thing)
    def bad_body() -> Any:
        return JSONResponse({"name": 1, "size": "big"})

    @app.get("/server-error", response_model=Thing)
    def server_error() -> Any:
        return JSONResponse({"name": "x", "size": 1}, status_code=500)

    @app.get("/undocumented-status", response_model=Thing)
    def undocumented_status() -> Any:
        return JSONResponse({"name": "x", "size": 1}, status_code=418)

    @app.get("/wrong-content-type", response_model=Thing)
    def wrong_content_type() -> Any:
        return PlainTextResponse("name=x")

    return app


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/bad-body", JsonSchemaError),
        ("/server-error", ServerError),
        ("/undocumented-status", UndefinedStatusCode),
        ("/wrong-content-type", UndefinedContentType),
    ],
)
def test_the_checks_fail_on_a_broken_app(path: str, expected: type[Exception]) -> None:
    app = _broken_app()
    broken = schemathesis.openapi.from_dict(app.openapi(), config=_config())
    case = broken[path]["GET"].Case()
    with pytest.raises(FailureGroup) as raised:
        case.call_and_validate(checks=CHECKS, app=app)
    assert any(isinstance(failure, expected) for failure in raised.value.exceptions), raised.value.exceptions
