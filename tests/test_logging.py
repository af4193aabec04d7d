"""Structured logs: one JSON object a line, request context attached, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from nexus.observability.logging import configure_logging
from nexus.users.models import Role
from tests.fixtures.app import PASSWORD, Api, ApiFactory

# Loggers of the test client itself: they log full URLs on the client side, which is not the app's output.
CLIENT_LOGGERS = ("httpx", "httpx2", "httpcore")

FAKE_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9"
    ".eyJzdWIiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDEiLCJyb2xlIjoiYWRtaW4ifQ"
    ".c2lnbmF0dXJlLXRoYXQtaXMtbm90LXJlYWxseS1zaWduZWQ"
)
FAKE_REFRESH = "nxr_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u"
FAKE_PASSWORD = "hunter2-Tr0ub4dor&3-secret"
OPAQUE = "opaque-metrics-token-0123456789abcdef"


class LogCapture:
    """What configure_logging wrote, read back as lines and parsed records."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def records(self) -> list[dict[str, Any]]:
        records = []
        for line in self.text.splitlines():
            if line.strip():
                record = json.loads(line)
                assert isinstance(record, dict), line
                records.append(record)
        return records

    def events(self, name: str) -> list[dict[str, Any]]:
        return [record for record in self.records if record.get("event") == name]

    def access(self, request_id: str) -> dict[str, Any]:
        """Return the single access-log line of one request."""
        found = [record for record in self.events("request") if record.get("request_id") == request_id]
        assert len(found) == 1, f"expected one access line for {request_id}, got {found}\n{self.text}"
        return found[0]


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Send all logs, as JSON, to a StringIO; put the previous configuration back afterwards."""
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    was_configured = structlog.is_configured()
    saved_structlog = structlog.get_config()
    touched = ("uvicorn", "uvicorn.error", "uvicorn.access", *CLIENT_LOGGERS)
    saved_loggers = {
        name: (logger.handlers[:], logger.propagate, logger.disabled, logger.level)
        for name in touched
        for logger in [logging.getLogger(name)]
    }
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield LogCapture(stream)
    finally:
        root.handlers[:], level = saved_root
        root.setLevel(level)
        for name, (handlers, propagate, disabled, logger_level) in saved_loggers.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.propagate, logger.disabled = propagate, disabled
            logger.setLevel(logger_level)
        if was_configured:
            structlog.configure(**saved_structlog)
        else:
            structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


def assert_absent(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"secret {secret[:12]}... found in the logs:\n{text}"


class TestFormat:
    def test_every_line_is_a_json_object_with_event_level_and_time(self, logs: LogCapture, api: Api) -> None:
        api.client.get("/health/live")
        api.client.get("/nope")
        structlog.get_logger("nexus.test").info("structlog_event", answer=42)
        logging.getLogger("nexus.legacy").warning("stdlib %s", "event")
        records = logs.records
        assert len(records) == len([line for line in logs.text.splitlines() if line.strip()]) >= 4
        for record in records:
            assert {"event", "level", "timestamp"} <= record.keys(), record
        assert logs.events("structlog_event")[0]["answer"] == 42
        assert logs.events("stdlib event")[0]["level"] == "warning"

    def test_context_does_not_leak_between_requests(self, logs: LogCapture, api: Api) -> None:
        first = api.client.get("/health/live", headers={"X-Request-ID": "first-request"})
        structlog.get_logger("nexus.test").info("between_requests")
        second = api.client.get("/health/live", headers={"X-Request-ID": "second-request"})
        assert logs.access(first.headers["x-request-id"])["route"] == "/health/live"
        assert logs.access(second.headers["x-request-id"])["route"] == "/health/live"
        assert "request_id" not in logs.events("between_requests")[0]


class TestRequestLogs:
    def test_login_logs_no_password(self, logs: LogCapture, api: Api) -> None:
        api.add_user("log-user")
        ok = api.client.post("/api/v1/auth/token", data={"username": "log-user", "password": PASSWORD})
        assert ok.status_code == 200
        bad = api.client.post("/api/v1/auth/token", data={"username": "log-user", "password": FAKE_PASSWORD})
        assert bad.status_code == 401
        assert_absent(
            logs.text, PASSWORD, FAKE_PASSWORD, ok.json()["access_token"], ok.json()["refresh_token"]
        )
        line = logs.access(ok.headers["x-request-id"])
        assert line["route"] == "/api/v1/auth/token" and line["status"] == 200 and line["method"] == "POST"
        failed = logs.events("login_failed")
        assert [record["request_id"] for record in failed] == [bad.headers["x-request-id"]]
        assert logs.access(bad.headers["x-request-id"])["status"] == 401

    def test_authorization_header_is_not_logged_and_user_id_is(self, logs: LogCapture, api: Api) -> None:
        headers = api.headers_for("header-user", Role.ANALYST)
        token = headers["Authorization"].removeprefix("Bearer ")
        response = api.client.get("/api/v1/users/me", headers={**headers, "X-Request-ID": "authed-request"})
        assert response.status_code == 200
        assert_absent(logs.text, token, PASSWORD)
        line = logs.access("authed-request")
        assert line["route"] == "/api/v1/users/me"
        assert line["status"] == 200
        assert line.get("user_id") == response.json()["id"], line

    def test_refresh_tokens_in_bodies_are_not_logged(self, logs: LogCapture, api: Api) -> None:
        api.add_user("refresh-user")
        first = api.login("refresh-user")
        rotated = api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200
        reused = api.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reused.status_code == 401
        secrets = (first["refresh_token"], first["access_token"], *rotated.json().values())
        assert_absent(logs.text, *(value for value in secrets if isinstance(value, str) and len(value) > 20))
        assert logs.access(rotated.headers["x-request-id"])["route"] == "/api/v1/auth/refresh"
        (reuse,) = logs.events("refresh_reuse_detected")
        assert reuse["request_id"] == reused.headers["x-request-id"]
        assert uuid.UUID(reuse["user_id"])

    def test_route_template_not_raw_path(
        self, logs: LogCapture, api: Api, admin_headers: dict[str, str]
    ) -> None:
        raw = str(uuid.uuid4())
        response = api.client.delete(f"/api/v1/users/{raw}", headers=admin_headers)
        assert response.status_code == 404
        line = logs.access(response.headers["x-request-id"])
        assert line["route"] == "/api/v1/users/{user_id}"
        assert line["status"] == 404
        assert uuid.UUID(line["user_id"])
        assert raw not in logs.text

    def test_unmatched_and_query_strings_are_not_logged(self, logs: LogCapture, api: Api) -> None:
        marker = uuid.uuid4().hex
        response = api.client.get(f"/no/such/{marker}?token={marker}&password={marker}")
        assert response.status_code == 404
        assert logs.access(response.headers["x-request-id"])["route"] == "<unmatched>"
        assert marker not in logs.text

    def test_unhandled_error_is_logged_redacted_with_request_id(
        self, logs: LogCapture, api_factory: ApiFactory
    ) -> None:
        api = api_factory()

        def explode() -> None:
            raise RuntimeError(f"upstream refused Bearer {FAKE_JWT} and {FAKE_REFRESH}")

        api.app.add_api_route("/api/v1/explode", explode, methods=["GET"])
        response = api.client.get("/api/v1/explode", headers={"X-Request-ID": "explode-1"})
        assert response.status_code == 500
        (error,) = logs.events("unhandled_error")
        assert error["request_id"] == "explode-1"
        assert error["level"] == "error"
        assert "RuntimeError" in error["exception"]
        assert_absent(logs.text, FAKE_JWT, FAKE_REFRESH)
        assert logs.access("explode-1")["status"] == 500


EXPLICIT_EVENTS = [
    pytest.param({"password": FAKE_PASSWORD}, FAKE_PASSWORD, id="password"),
    pytest.param(
        {"new_password": FAKE_PASSWORD, "current_password": FAKE_PASSWORD}, FAKE_PASSWORD, id="pw-change"
    ),
    pytest.param({"passwd": FAKE_PASSWORD}, FAKE_PASSWORD, id="passwd"),
    pytest.param({"token": OPAQUE}, OPAQUE, id="token"),
    pytest.param({"access_token": FAKE_JWT}, FAKE_JWT, id="access-token"),
    pytest.param({"refresh_token": FAKE_REFRESH}, FAKE_REFRESH, id="refresh-token"),
    pytest.param({"authorization": f"Bearer {OPAQUE}"}, OPAQUE, id="authorization"),
    pytest.param({"Authorization": f"Bearer {FAKE_JWT}"}, FAKE_JWT, id="Authorization"),
    pytest.param({"headers": {"Authorization": f"Bearer {OPAQUE}"}}, OPAQUE, id="nested-header"),
    pytest.param({"headers": [("authorization", f"Bearer {OPAQUE}")]}, OPAQUE, id="header-pairs"),
    pytest.param({"headers": [["Cookie", f"session={OPAQUE}"]]}, OPAQUE, id="cookie-pair"),
    pytest.param(
        {"headers": [(b"authorization", f"Bearer {OPAQUE}".encode())]}, OPAQUE, id="asgi-bytes-header"
    ),
    pytest.param({"cookie": f"session={OPAQUE}"}, OPAQUE, id="cookie"),
    pytest.param({"Set-Cookie": f"session={OPAQUE}; HttpOnly"}, OPAQUE, id="set-cookie"),
    pytest.param({"api_key": OPAQUE, "X-API-Key": OPAQUE, "apiKey": OPAQUE}, OPAQUE, id="api-keys"),
    pytest.param({"client_secret": OPAQUE, "jwt_secret": OPAQUE}, OPAQUE, id="secrets"),
    pytest.param({"sentry_dsn": f"https://{OPAQUE}@example.invalid/1"}, OPAQUE, id="dsn"),
    pytest.param({"private_key": f"-----BEGIN PRIVATE KEY-----{OPAQUE}"}, OPAQUE, id="private-key"),
    pytest.param({"detail": f"retrying with Bearer {FAKE_JWT}"}, FAKE_JWT, id="bearer-jwt-in-text"),
    pytest.param({"detail": f"retrying with Bearer {OPAQUE}"}, OPAQUE, id="bearer-opaque-in-text"),
    pytest.param(
        {"detail": f"sent header Authorization: bearer {OPAQUE}"}, OPAQUE, id="lowercase-bearer-in-text"
    ),
    pytest.param({"detail": f"decoded {FAKE_JWT} without a scheme"}, FAKE_JWT, id="bare-jwt-in-text"),
    pytest.param({"detail": f"issued {FAKE_REFRESH}"}, FAKE_REFRESH, id="refresh-in-text"),
    pytest.param({"detail": "Basic dXNlcjpodW50ZXIy"}, "dXNlcjpodW50ZXIy", id="basic-in-text"),
    pytest.param({"items": [f"Bearer {FAKE_JWT}", {"token": OPAQUE}]}, OPAQUE, id="mixed-list"),
    pytest.param({"pair": ("password", FAKE_PASSWORD)}, FAKE_PASSWORD, id="tuple-pair"),
]


def _deep(levels: int, leaf: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = leaf
    for level in range(levels):
        value = {f"level{level}": value}
    return value


class TestExplicitEvents:
    @pytest.mark.parametrize(("values", "secret"), EXPLICIT_EVENTS)
    def test_secret_values_are_redacted(self, logs: LogCapture, values: dict[str, Any], secret: str) -> None:
        structlog.get_logger("nexus.test").info("explicit_event", **values)
        assert_absent(logs.text, secret)
        (record,) = logs.events("explicit_event")
        assert record["logger"] == "nexus.test"
        assert "[REDACTED]" in json.dumps(record)

    def test_harmless_values_are_kept(self, logs: LogCapture) -> None:
        structlog.get_logger("nexus.test").info("harmless", username="ada", role="admin", count=3)
        (record,) = logs.events("harmless")
        assert record["username"] == "ada" and record["role"] == "admin"

    def test_secret_in_event_name_is_redacted(self, logs: LogCapture) -> None:
        structlog.get_logger("nexus.test").info(f"got Bearer {FAKE_JWT} and {FAKE_REFRESH}")
        assert_absent(logs.text, FAKE_JWT, FAKE_REFRESH)
        assert "got Bearer [REDACTED]" in logs.text

    def test_stdlib_logging_is_redacted(self, logs: LogCapture) -> None:
        logging.getLogger("nexus.legacy").warning(
            "calling with %s then %s", f"Bearer {FAKE_JWT}", FAKE_REFRESH
        )
        assert_absent(logs.text, FAKE_JWT, FAKE_REFRESH)
        (record,) = [record for record in logs.records if record.get("logger") == "nexus.legacy"]
        assert record["event"].startswith("calling with Bearer [REDACTED]")

    def test_exception_text_is_redacted(self, logs: LogCapture) -> None:
        log = structlog.get_logger("nexus.test")
        try:
            raise ValueError(f"bad credentials Bearer {FAKE_JWT} / {FAKE_REFRESH}")
        except ValueError:
            log.exception("operation_failed", password=FAKE_PASSWORD)
        assert_absent(logs.text, FAKE_JWT, FAKE_REFRESH, FAKE_PASSWORD)
        (record,) = logs.events("operation_failed")
        assert "ValueError" in record["exception"]

    def test_deeply_nested_secret_is_redacted(self, logs: LogCapture) -> None:
        structlog.get_logger("nexus.test").info("deep", payload=_deep(20, {"password": FAKE_PASSWORD}))
        assert_absent(logs.text, FAKE_PASSWORD)
        assert logs.events("deep")

    def test_bound_context_is_redacted(self, logs: LogCapture) -> None:
        structlog.contextvars.bind_contextvars(request_id="bound-ctx", authorization=f"Bearer {OPAQUE}")
        try:
            structlog.get_logger("nexus.test").info("with_context")
        finally:
            structlog.contextvars.clear_contextvars()
        assert_absent(logs.text, OPAQUE)
        assert logs.events("with_context")[0]["request_id"] == "bound-ctx"
