"""Sentry: events reach the transport, and no password, token or cookie is in them."""

from __future__ import annotations

import copy
import io
import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sentry_sdk
import structlog
from fastapi import Request
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from nexus.config import ObservabilitySettings, Settings
from nexus.observability.logging import configure_logging
from nexus.observability.redaction import REDACTED
from nexus.observability.sentry import init_sentry, scrub_event
from tests.fixtures.app import Api, ApiFactory

DSN = "https://public@example.invalid/1"


class MemoryTransport(Transport):
    """Keeps envelopes in memory instead of sending them."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)

    @property
    def text(self) -> str:
        """Every envelope as it would go over the wire."""
        return "\n".join(envelope.serialize().decode("utf-8", "replace") for envelope in self.envelopes)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The error events (not sessions or transactions) captured so far."""
        events = []
        for envelope in self.envelopes:
            for item in envelope.items:
                if item.type == "event":
                    events.append(item.get_event() or json.loads(item.payload.get_bytes()))
        return events


def sentry_settings(api: Api) -> Settings:
    """The app's settings with a (fake) DSN."""
    observability = ObservabilitySettings(_env_file=None, sentry_dsn=DSN)  # type: ignore[call-arg]
    return api.runtime.settings.model_copy(update={"observability": observability})


@contextmanager
def capturing(settings: Settings) -> Iterator[MemoryTransport]:
    """Start Sentry on an in-memory transport; stop it and detach the client afterwards."""
    transport = MemoryTransport()
    assert init_sentry(settings, transport=transport)
    try:
        yield transport
    finally:
        client = sentry_sdk.get_client()
        client.flush(timeout=2)
        client.close()
        sentry_sdk.get_global_scope().set_client(None)
        sentry_sdk.get_isolation_scope().clear()
        sentry_sdk.get_current_scope().clear()


@pytest.fixture
def sentry(api: Api) -> Iterator[MemoryTransport]:
    """Sentry reporting the ``api`` app's errors into memory."""
    with capturing(sentry_settings(api)) as transport:
        yield transport


def make_secrets() -> dict[str, str]:
    """Fresh secrets, made at run time so they never appear in the source lines Sentry attaches."""
    signature = secrets.token_urlsafe(24)
    return {
        "password": "pw-" + secrets.token_hex(12),
        "jwt": f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{secrets.token_hex(6)}In0.{signature}",
        "signature": signature,
        "refresh": "nxr_" + secrets.token_urlsafe(32),
        "cookie": "cookie" + secrets.token_hex(12),
        "api_key": "key" + secrets.token_hex(12),
        "query": "query" + secrets.token_hex(12),
        "body": "body" + secrets.token_hex(12),
    }


def assert_clean(text: str, secret_values: dict[str, str]) -> None:
    leaks = [name for name, value in secret_values.items() if value in text]
    assert not leaks, f"secrets {leaks} reached Sentry"


class TestNotConfigured:
    def test_no_dsn_starts_nothing(self, api: Api) -> None:
        assert init_sentry(api.runtime.settings, transport=MemoryTransport()) is False
        assert not sentry_sdk.get_client().is_active()


class TestUnhandledErrors:
    @pytest.fixture
    def secret_values(self) -> dict[str, str]:
        # Named "secret_*" so that, captured in the route's closure, the dict itself is redacted whole.
        return make_secrets()

    @pytest.fixture
    def booming(self, api: Api, secret_values: dict[str, str]) -> Api:
        """Add a route whose locals, headers and exception message all carry secrets."""

        def leaky(request: Request) -> None:
            password = secret_values["password"]
            token = secret_values["refresh"]
            authorization = request.headers.get("authorization")
            api_key = request.headers.get("x-api-key")
            headers = dict(request.headers)
            note = f"about to call upstream with Bearer {secret_values['jwt']}"
            assert password and token and authorization and api_key and headers and note
            raise RuntimeError(
                f"upstream refused Bearer {secret_values['jwt']} (refresh {secret_values['refresh']})"
            )

        api.app.add_api_route("/api/v1/leaky", leaky, methods=["POST"])
        return api

    def _call(self, api: Api, secret_values: dict[str, str]) -> None:
        response = api.client.post(
            f"/api/v1/leaky?access_token={secret_values['jwt']}&api_key={secret_values['query']}&page=2",
            json={"password": secret_values["body"]},
            headers={
                "Authorization": f"Bearer {secret_values['jwt']}",
                "Cookie": f"session={secret_values['cookie']}; refresh={secret_values['refresh']}",
                "X-Api-Key": secret_values["api_key"],
                "X-Request-ID": "sentry-test-1",
            },
        )
        assert response.status_code == 500
        assert response.json()["request_id"] == "sentry-test-1"

    def test_error_is_reported_without_secrets(
        self, booming: Api, sentry: MemoryTransport, secret_values: dict[str, str]
    ) -> None:
        self._call(booming, secret_values)
        sentry_sdk.flush(timeout=2)
        events = sentry.events
        assert events, "the unhandled error was not reported"
        exceptions = [value for event in events for value in event.get("exception", {}).get("values", [])]
        assert any(value["type"] == "RuntimeError" for value in exceptions)
        # The frame of the route is there, with its local variables (scrubbed, not dropped).
        frames = [frame for value in exceptions for frame in value.get("stacktrace", {}).get("frames", [])]
        leaky = [frame for frame in frames if frame.get("function") == "leaky"]
        assert leaky and "password" in leaky[-1].get("vars", {})
        assert REDACTED in sentry.text
        assert_clean(sentry.text, secret_values)

    def test_request_section_is_scrubbed(
        self, booming: Api, sentry: MemoryTransport, secret_values: dict[str, str]
    ) -> None:
        self._call(booming, secret_values)
        sentry_sdk.flush(timeout=2)
        requests = [event["request"] for event in sentry.events if "request" in event]
        assert requests, "the event carries no request section"
        for request in requests:
            assert request.get("url", "").endswith("/api/v1/leaky")
            assert_clean(json.dumps(request), secret_values)

    def test_error_is_reported_once(
        self, booming: Api, sentry: MemoryTransport, secret_values: dict[str, str]
    ) -> None:
        self._call(booming, secret_values)
        sentry_sdk.flush(timeout=2)
        runtime_errors = [
            event
            for event in sentry.events
            if any(value["type"] == "RuntimeError" for value in event.get("exception", {}).get("values", []))
        ]
        assert len(runtime_errors) == 1

    def test_logged_errors_and_breadcrumbs_are_scrubbed(
        self, booming: Api, sentry: MemoryTransport, secret_values: dict[str, str]
    ) -> None:
        # With the production log configuration, log records become Sentry breadcrumbs and events too.
        root = logging.getLogger()
        saved = (root.handlers[:], root.level, structlog.get_config(), structlog.is_configured())
        configure_logging("INFO", json=True, stream=io.StringIO())
        try:
            logging.getLogger("nexus.test").info(
                "about to fail: Bearer %s %s", secret_values["jwt"], secret_values["refresh"]
            )
            structlog.get_logger("nexus.test").warning(
                "retrying", password=secret_values["password"], note=secret_values["refresh"]
            )
            self._call(booming, secret_values)
            logging.getLogger("nexus.test").error("upstream said Bearer %s", secret_values["jwt"])
        finally:
            root.handlers[:] = saved[0]
            root.setLevel(saved[1])
            if saved[3]:
                structlog.configure(**saved[2])
            else:
                structlog.reset_defaults()
            structlog.contextvars.clear_contextvars()
        sentry_sdk.flush(timeout=2)
        assert len(sentry.events) >= 2
        assert_clean(sentry.text, secret_values)

    def test_explicit_captures_are_scrubbed(self, sentry: MemoryTransport) -> None:
        secret_values = make_secrets()
        sentry_sdk.add_breadcrumb(
            category="auth",
            message=f"token {secret_values['refresh']}",
            data={"password": secret_values["password"]},
        )
        sentry_sdk.set_context(
            "upstream", {"authorization": f"Bearer {secret_values['jwt']}", "url": "https://x"}
        )
        sentry_sdk.set_extra("api_key", secret_values["api_key"])
        sentry_sdk.set_tag("session", f"Bearer {secret_values['jwt']}")
        sentry_sdk.capture_message(
            f"login with Bearer {secret_values['jwt']} and refresh {secret_values['refresh']}"
        )
        try:
            raise ValueError(f"bad cookie {secret_values['refresh']}")
        except ValueError as error:
            sentry_sdk.capture_exception(error)
        sentry_sdk.flush(timeout=2)
        assert len(sentry.events) == 2
        assert_clean(sentry.text, secret_values)


class TestShutdown:
    def test_capture_after_shutdown_goes_nowhere(self, api: Api) -> None:
        with capturing(sentry_settings(api)) as transport:
            sentry_sdk.capture_message("while running")
            sentry_sdk.flush(timeout=2)
            assert len(transport.events) == 1
        assert not sentry_sdk.get_client().is_active()
        sentry_sdk.capture_message("after shutdown")
        assert len(transport.events) == 1

    def test_app_errors_after_shutdown_are_not_reported(self, api_factory: ApiFactory) -> None:
        api = api_factory()

        def boom() -> None:
            raise RuntimeError("after shutdown")

        api.app.add_api_route("/boom", boom, methods=["GET"])
        with capturing(sentry_settings(api)) as transport:
            assert api.client.get("/boom").status_code == 500
            sentry_sdk.flush(timeout=2)
            reported = len(transport.events)
        assert reported == 1
        assert api.client.get("/boom").status_code == 500
        assert len(transport.events) == reported


JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJhZGEiLCJyb2xlIjoiYWRtaW4ifQ.s1gn4tur3-Part_xyz"
REFRESH = "nxr_R3fr3shT0kenValue_0123456789abcdefghij"
OPAQUE = "opaque-0123456789abcdef"
PASSWORD = "correct horse battery staple"


def realistic_event() -> dict[str, Any]:
    """An error event shaped like the SDK's (already serialized: locals are repr strings)."""
    return {
        "event_id": "0123456789abcdef0123456789abcdef",
        "level": "error",
        "platform": "python",
        "environment": "production",
        "release": "nexus@0.1.0",
        "logentry": {"message": "login failed for %s", "params": [f"Bearer {JWT}"]},
        "exception": {
            "values": [
                {
                    "type": "RuntimeError",
                    "value": f"upstream refused Bearer {JWT}; refresh {REFRESH}",
                    "module": None,
                    "mechanism": {"type": "generic", "handled": False},
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "nexus/auth/service.py",
                                "function": "login",
                                "lineno": 42,
                                "context_line": "    raise RuntimeError(message)",
                                "vars": {
                                    "password": repr(PASSWORD),
                                    "token": repr(REFRESH),
                                    "raw_token": repr(REFRESH),
                                    "form": {"username": "'ada'", "password": repr(PASSWORD)},
                                    "headers": [
                                        ["b'authorization'", f"b'Bearer {JWT}'"],
                                        ["b'host'", "b'api'"],
                                    ],
                                    "message": repr(f"sent Bearer {OPAQUE}"),
                                    "self": "<nexus.auth.service.AuthService object at 0x7f>",
                                },
                            }
                        ]
                    },
                }
            ]
        },
        "request": {
            "url": "https://nexus.example/api/v1/auth/token",
            "method": "POST",
            "query_string": f"access_token={JWT}&token={OPAQUE}&page=2",
            "headers": {
                "Authorization": f"Bearer {JWT}",
                "Cookie": f"session={OPAQUE}; refresh={REFRESH}",
                "X-Api-Key": OPAQUE,
                "User-Agent": "curl/8.5.0",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "cookies": {"session": OPAQUE, "refresh": REFRESH},
            "data": {"username": "ada", "password": PASSWORD, "refresh_token": REFRESH},
            "env": {"REMOTE_ADDR": "10.0.0.7"},
        },
        "breadcrumbs": {
            "values": [
                {
                    "category": "httpx",
                    "message": f"POST https://upstream/api Authorization: Bearer {OPAQUE}",
                    "data": {"headers": {"authorization": f"Bearer {OPAQUE}"}, "status_code": 401},
                },
                {"category": "log", "message": f"issued {REFRESH}", "level": "info"},
            ]
        },
        "extra": {"sys.argv": ["nexus", "serve"], "db_password": PASSWORD, "sentry_dsn": DSN},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11"}},
        "tags": {"route": "/api/v1/auth/token"},
        "user": {"id": "7cff1b8e-8e47-4fe6-b81e-cdfbff550e40"},
    }


SECRETS = {
    "jwt": JWT,
    "jwt-signature": "s1gn4tur3-Part_xyz",
    "refresh": REFRESH,
    "opaque": OPAQUE,
    "password": PASSWORD,
}


class TestScrubEvent:
    def test_realistic_event_has_no_secrets(self) -> None:
        scrubbed = scrub_event(realistic_event(), {})
        assert isinstance(scrubbed, dict), "scrubbing must not drop the event"
        assert_clean(json.dumps(scrubbed), SECRETS)

    def test_useful_fields_survive(self) -> None:
        scrubbed = scrub_event(realistic_event(), {})
        assert scrubbed["event_id"] == "0123456789abcdef0123456789abcdef"
        assert scrubbed["level"] == "error" and scrubbed["release"] == "nexus@0.1.0"
        (exception,) = scrubbed["exception"]["values"]
        assert exception["type"] == "RuntimeError"
        assert exception["value"].startswith("upstream refused Bearer ")
        (frame,) = exception["stacktrace"]["frames"]
        assert frame["function"] == "login" and frame["lineno"] == 42
        assert frame["vars"]["form"]["username"] == "'ada'"
        assert frame["vars"]["password"] == REDACTED
        request = scrubbed["request"]
        assert request["url"] == "https://nexus.example/api/v1/auth/token" and request["method"] == "POST"
        assert request["headers"]["User-Agent"] == "curl/8.5.0"
        assert request["headers"]["Authorization"] == REDACTED
        assert request["data"]["username"] == "ada"
        assert "page=2" in request["query_string"]
        assert scrubbed["user"]["id"] == "7cff1b8e-8e47-4fe6-b81e-cdfbff550e40"
        assert scrubbed["extra"]["sys.argv"] == ["nexus", "serve"]
        assert scrubbed["breadcrumbs"]["values"][0]["data"]["status_code"] == 401

    def test_scrubbing_twice_changes_nothing_more(self) -> None:
        once = scrub_event(realistic_event(), {})
        assert scrub_event(copy.deepcopy(once), {}) == once

    @pytest.mark.parametrize(
        ("event", "secret"),
        [
            pytest.param(
                {"request": {"headers": {"authorization": f"Bearer {OPAQUE}"}}}, OPAQUE, id="auth-header"
            ),
            pytest.param(
                {"request": {"headers": [["Authorization", f"Bearer {OPAQUE}"]]}}, OPAQUE, id="header-pairs"
            ),
            pytest.param(
                {"request": {"headers": {"Proxy-Authorization": f"Basic {OPAQUE}"}}}, OPAQUE, id="proxy-auth"
            ),
            pytest.param({"request": {"headers": {"cookie": f"a={OPAQUE}"}}}, OPAQUE, id="cookie-header"),
            pytest.param(
                {"request": {"headers": {"X-Metrics-Token": OPAQUE}}}, OPAQUE, id="custom-token-header"
            ),
            pytest.param({"request": {"cookies": {"session": OPAQUE}}}, OPAQUE, id="cookies"),
            pytest.param({"request": {"data": {"password": PASSWORD}}}, PASSWORD, id="form-password"),
            pytest.param({"request": {"data": {"new_password": PASSWORD}}}, PASSWORD, id="new-password"),
            pytest.param({"request": {"data": {"refresh_token": REFRESH}}}, REFRESH, id="body-refresh"),
            pytest.param({"request": {"query_string": f"token={OPAQUE}"}}, OPAQUE, id="query-token"),
            pytest.param(
                {"request": {"query_string": f"a=1&password={OPAQUE}&b=2"}}, OPAQUE, id="query-password"
            ),
            pytest.param({"request": {"query_string": f"access_token={JWT}"}}, JWT, id="query-jwt"),
            pytest.param({"request": {"url": f"https://x/cb?api_key={OPAQUE}"}}, OPAQUE, id="url-api-key"),
            pytest.param({"message": f"Authorization: bearer {OPAQUE}"}, OPAQUE, id="lowercase-bearer"),
            pytest.param({"message": f"refresh {REFRESH} failed"}, REFRESH, id="refresh-in-message"),
            pytest.param({"exception": {"values": [{"value": f"bad {JWT}"}]}}, JWT, id="jwt-in-exception"),
            pytest.param({"extra": {"db": {"dsn": f"postgresql://u:{OPAQUE}@db/x"}}}, OPAQUE, id="dsn"),
            pytest.param(
                {"extra": {"vars": {"scope": {"headers": [["b'authorization'", f"b'Bearer {OPAQUE}'"]]}}}},
                OPAQUE,
                id="asgi-scope-repr",
            ),
            pytest.param({"extra": {"nested": [[[[{"api_key": OPAQUE}]]]]}}, OPAQUE, id="nested-lists"),
            pytest.param(
                {"spans": [{"data": {"http.request.header.authorization": f"Bearer {OPAQUE}"}}]},
                OPAQUE,
                id="span-data",
            ),
        ],
    )
    def test_hiding_places(self, event: dict[str, Any], secret: str) -> None:
        scrubbed = scrub_event(event, {})
        assert scrubbed is not None
        assert secret not in json.dumps(scrubbed)

    def test_event_ids_and_uuids_are_not_mistaken_for_secrets(self) -> None:
        event = {
            "event_id": uuid.uuid4().hex,
            "user": {"id": str(uuid.uuid4())},
            "tags": {"request_id": "abc-123"},
        }
        assert scrub_event(copy.deepcopy(event), {}) == event
