"""Every error is answered as RFC 9457 problem+json, and bad input never writes or crashes."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import text

from nexus.errors import PROBLEM_BASE, PROBLEM_JSON
from nexus.users.models import Role
from tests.fixtures.app import PASSWORD, Api, ApiFactory

PROBLEM_FIELDS = ("type", "title", "status", "detail", "instance", "request_id")
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
USERS = "/api/v1/users"
ME = "/api/v1/users/me"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
JSON_TYPE = {"Content-Type": "application/json"}
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}


def assert_problem(response: httpx.Response, status: int, *, instance: str | None = None) -> dict[str, Any]:
    """Check one problem+json answer and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    missing = [field for field in PROBLEM_FIELDS if field not in body]
    assert not missing, f"problem body lacks {missing}: {body}"
    assert body["status"] == status == response.status_code
    assert isinstance(body["type"], str) and body["type"].startswith(PROBLEM_BASE)
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["instance"], str) and body["instance"].startswith("/")
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert response.headers["x-request-id"] == body["request_id"]
    if instance is not None:
        assert body["instance"] == instance
    return body


def count_rows(api: Api, table: str) -> int:
    """Count the rows of one table."""
    with api.runtime.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


class TestMalformedBodies:
    @pytest.mark.parametrize(
        "body",
        [
            b'{"refresh_token":',
            b"{",
            b'{"refresh_token": "x",}',
            b"{'refresh_token': 'x'}",
            b"nope",
            b'{"refresh_token": "x"} trailing',
            b'{"refresh_token": NaN',
        ],
        ids=[
            "truncated",
            "open-brace",
            "trailing-comma",
            "single-quotes",
            "bare-word",
            "trailing-junk",
            "nan",
        ],
    )
    def test_malformed_json_is_400(self, api: Api, body: bytes) -> None:
        response = api.client.post(REFRESH, content=body, headers={"Content-Type": "application/json"})
        problem = assert_problem(response, 400, instance=REFRESH)
        assert problem["type"] == PROBLEM_BASE + "malformed-body"

    @pytest.mark.parametrize(
        "body",
        [
            b'{"refresh_token": "\xff\xfe\xfd"}',
            b'{"refresh_token": "caf\xe9"}',
            b"\x80\x81\x82\x83",
            b'\xff\xfe{"refresh_token": "x"}',
            b'{"refresh_token": "\xed\xa0\x80"}',
            b'{"refresh_token": "\xc0\xaf"}',
        ],
        ids=["invalid-bytes", "latin-1", "continuation-bytes", "utf16-bom", "surrogate", "overlong"],
    )
    def test_non_utf8_json_body_is_400_or_422(self, api: Api, body: bytes) -> None:
        response = api.client.post(REFRESH, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 422), response.text
        assert_problem(response, response.status_code, instance=REFRESH)

    @pytest.mark.parametrize(
        "body",
        [b"username=\xff\xfe&password=\xff", b"username=caf\xe9&password=caf\xe9", b"\x80\x81=\x82"],
        ids=["invalid-bytes", "latin-1", "continuation-bytes"],
    )
    def test_non_utf8_form_body_is_a_4xx_problem(self, api: Api, body: bytes) -> None:
        response = api.client.post(
            TOKEN, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert 400 <= response.status_code < 500, response.text
        assert_problem(response, response.status_code, instance=TOKEN)


class TestUnauthorized:
    def test_no_token_is_401_with_bearer_challenge(self, api: Api) -> None:
        response = api.client.get(ME)
        assert_problem(response, 401, instance=ME)
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        "authorization",
        [
            "Bearer garbage",
            "Bearer eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0.",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "Basic dXNlcjpwYXNzd29yZA==",
            "Bearer",
            "Bearer " + "A" * 4000,
            "bearer ' OR '1'='1",
            "Token abc",
        ],
        ids=[
            "garbage",
            "alg-none",
            "wrong-signature",
            "basic",
            "empty-bearer",
            "huge",
            "sql",
            "other-scheme",
        ],
    )
    def test_bad_token_is_401(self, api: Api, authorization: str) -> None:
        response = api.client.get(ME, headers={"Authorization": authorization})
        assert_problem(response, 401, instance=ME)
        assert response.headers["www-authenticate"] == "Bearer"

    def test_wrong_password_is_401(self, api: Api) -> None:
        api.add_user("wrong-pw-user")
        response = api.client.post(TOKEN, data={"username": "wrong-pw-user", "password": "not the password"})
        problem = assert_problem(response, 401, instance=TOKEN)
        assert "not the password" not in response.text
        assert problem["detail"] == "Incorrect username or password."

    def test_unknown_refresh_token_is_401(self, api: Api) -> None:
        response = api.client.post(REFRESH, json={"refresh_token": "nxr_doesnotexist0123456789"})
        assert_problem(response, 401, instance=REFRESH)
        assert "nxr_doesnotexist0123456789" not in response.text


class TestForbidden:
    @pytest.mark.parametrize(
        ("method", "path", "payload"),
        [
            ("GET", USERS, None),
            ("POST", USERS, {"username": "new-user", "password": PASSWORD}),
            ("PATCH", f"{USERS}/{uuid.UUID(int=1)}", {"role": "admin"}),
            ("DELETE", f"{USERS}/{uuid.UUID(int=1)}", None),
        ],
        ids=["list", "create", "update", "delete"],
    )
    @pytest.mark.parametrize("role", ["viewer", "analyst"])
    def test_non_admin_on_admin_route_is_403(
        self, api: Api, method: str, path: str, payload: dict[str, Any] | None, role: str
    ) -> None:
        headers = api.headers_for(f"{role}-user", Role(role))
        before = count_rows(api, "users")
        response = api.client.request(method, path, json=payload, headers=headers)
        problem = assert_problem(response, 403, instance=path)
        assert problem["type"] == PROBLEM_BASE + "forbidden"
        assert count_rows(api, "users") == before


class TestNotFound:
    @pytest.mark.parametrize(
        "path",
        ["/nope", "/api/v1/nope", "/api/v2/users", "/api/v1/users/me/extra/deep", "/%2e%2e/etc/passwd"],
    )
    def test_unknown_route_is_404(self, api: Api, path: str) -> None:
        response = api.client.get(path)
        problem = assert_problem(response, 404)
        assert problem["detail"] == "No such resource."

    @pytest.mark.parametrize("method", ["PATCH", "DELETE"])
    def test_unknown_user_id_is_404(self, api: Api, admin_headers: dict[str, str], method: str) -> None:
        path = f"{USERS}/{uuid.uuid4()}"
        payload = {"role": "viewer"} if method == "PATCH" else None
        response = api.client.request(method, path, json=payload, headers=admin_headers)
        problem = assert_problem(response, 404, instance=path)
        assert problem["type"] == PROBLEM_BASE + "not-found"

    @pytest.mark.parametrize("user_id", ["not-a-uuid", "1", "1' OR '1'='1", "%00"])
    def test_malformed_user_id_is_422(self, api: Api, admin_headers: dict[str, str], user_id: str) -> None:
        response = api.client.delete(f"{USERS}/{user_id}", headers=admin_headers)
        assert_problem(response, 422)


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("GET", TOKEN, "POST"),
            ("PUT", ME, "GET"),
            ("DELETE", REFRESH, "POST"),
            ("POST", "/health/live", "GET"),
        ],
    )
    def test_wrong_method_is_405_with_allow(self, api: Api, method: str, path: str, allowed: str) -> None:
        response = api.client.request(method, path)
        assert_problem(response, 405, instance=path)
        assert allowed in response.headers["allow"]


class TestConflict:
    @pytest.mark.parametrize("second", ["dup-user", "DUP-USER", "Dup-User"])
    def test_duplicate_username_is_409(self, api: Api, admin_headers: dict[str, str], second: str) -> None:
        created = api.client.post(
            USERS, json={"username": "dup-user", "password": PASSWORD}, headers=admin_headers
        )
        assert created.status_code == 201, created.text
        before = count_rows(api, "users")
        response = api.client.post(
            USERS, json={"username": second, "password": PASSWORD}, headers=admin_headers
        )
        problem = assert_problem(response, 409, instance=USERS)
        assert problem["type"] == PROBLEM_BASE + "conflict"
        assert count_rows(api, "users") == before

    def test_removing_the_last_admin_is_409(self, api: Api, admin_headers: dict[str, str]) -> None:
        me = api.client.get(ME, headers=admin_headers).json()
        response = api.client.delete(f"{USERS}/{me['id']}", headers=admin_headers)
        assert_problem(response, 409)


class TestPayloadTooLarge:
    LIMIT = 2048

    @pytest.fixture
    def small(self, api_factory: ApiFactory) -> Api:
        return api_factory(limits={"max_request_bytes": self.LIMIT})

    def test_declared_content_length_over_limit_is_413(self, small: Api) -> None:
        body = b'{"refresh_token": "' + b"a" * (self.LIMIT * 2) + b'"}'
        response = small.client.post(REFRESH, content=body, headers={"Content-Type": "application/json"})
        problem = assert_problem(response, 413, instance=REFRESH)
        assert problem["type"] == PROBLEM_BASE + "payload-too-large"

    def test_form_over_limit_is_413(self, small: Api) -> None:
        response = small.client.post(TOKEN, data={"username": "x", "password": "p" * (self.LIMIT * 2)})
        assert_problem(response, 413, instance=TOKEN)

    @staticmethod
    def _chunks(total: int, size: int = 512) -> Iterator[bytes]:
        yield b'{"refresh_token": "'
        sent = 0
        while sent < total:
            yield b"a" * size
            sent += size
        yield b'"}'

    def test_streamed_body_over_limit_is_413(self, small: Api) -> None:
        response = small.client.post(
            REFRESH, content=self._chunks(self.LIMIT * 4), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        problem = assert_problem(response, 413, instance=REFRESH)
        assert problem["type"] == PROBLEM_BASE + "payload-too-large"

    def test_streamed_body_to_admin_route_over_limit_is_413_and_writes_nothing(self, small: Api) -> None:
        headers = {**small.headers_for("big-admin", Role.ADMIN), **JSON_TYPE}
        before = count_rows(small, "users")
        response = small.client.post(USERS, content=self._chunks(self.LIMIT * 4), headers=headers)
        assert_problem(response, 413, instance=USERS)
        assert count_rows(small, "users") == before

    def test_streamed_body_under_limit_is_read(self, small: Api) -> None:
        response = small.client.post(
            REFRESH, content=self._chunks(128, size=32), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        # Not too large: the body is parsed and the (unknown) token refused.
        assert_problem(response, 401, instance=REFRESH)


class TestUnsupportedMediaType:
    @pytest.mark.parametrize(
        ("content_type", "body"),
        [
            ("text/plain", b'{"refresh_token": "x"}'),
            ("application/xml", b"<refresh_token>x</refresh_token>"),
            ("application/x-www-form-urlencoded", b"refresh_token=x"),
            (
                "multipart/form-data; boundary=x",
                b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--x--',
            ),
            ("text/html; charset=utf-8", b"<script>alert(1)</script>"),
        ],
        ids=["text", "xml", "form", "multipart", "html"],
    )
    def test_wrong_content_type_to_json_route_is_415(self, api: Api, content_type: str, body: bytes) -> None:
        response = api.client.post(REFRESH, content=body, headers={"Content-Type": content_type})
        problem = assert_problem(response, 415, instance=REFRESH)
        assert problem["type"] == PROBLEM_BASE + "unsupported-media-type"
        assert "<script>" not in response.text

    def test_json_to_form_token_route_is_415(self, api: Api) -> None:
        api.add_user("json-login")
        response = api.client.post(TOKEN, json={"username": "json-login", "password": PASSWORD})
        assert_problem(response, 415, instance=TOKEN)

    def test_untyped_body_to_json_route_is_415(self, api: Api) -> None:
        response = api.client.post(REFRESH, content=b'{"refresh_token": "x"}')
        assert "content-type" not in response.request.headers
        assert_problem(response, 415, instance=REFRESH)

    def test_json_suffix_type_is_accepted(self, api: Api) -> None:
        response = api.client.post(
            REFRESH,
            content=b'{"refresh_token": "nxr_unknown0000"}',
            headers={"Content-Type": "application/vnd.x+json"},
        )
        assert_problem(response, 401, instance=REFRESH)


class TestValidation:
    @pytest.mark.parametrize(
        "payload",
        [
            {"username": "extra-field", "password": PASSWORD, "is_superuser": True},
            {"username": "extra-field", "password": PASSWORD, "role": "admin", "id": str(uuid.uuid4())},
            {
                "username": "extra-field",
                "password": PASSWORD,
                "password_hash": "$argon2id$v=19$m=1,t=1,p=1$x$y",
            },
        ],
        ids=["is_superuser", "id", "password_hash"],
    )
    def test_unknown_field_is_422(
        self, api: Api, admin_headers: dict[str, str], payload: dict[str, Any]
    ) -> None:
        before = count_rows(api, "users")
        response = api.client.post(USERS, json=payload, headers=admin_headers)
        problem = assert_problem(response, 422, instance=USERS)
        assert problem["type"] == PROBLEM_BASE + "validation-error"
        assert any(error["type"] == "extra_forbidden" for error in problem["errors"])
        assert count_rows(api, "users") == before

    @pytest.mark.parametrize(
        "payload",
        [
            {"username": 123, "password": PASSWORD},
            {"username": ["admin"], "password": PASSWORD},
            {"username": {"$ne": None}, "password": PASSWORD},
            {"username": "bad-types", "password": 123456789012345},
            {"username": "bad-types", "password": PASSWORD, "role": "superuser"},
            {"username": "bad-types", "password": PASSWORD, "role": ["admin"]},
            {"username": "bad-types"},
            {"password": PASSWORD},
            [],
            "username",
            None,
        ],
        ids=[
            "int-username",
            "list-username",
            "operator-username",
            "int-password",
            "unknown-role",
            "list-role",
            "no-password",
            "no-username",
            "array-body",
            "string-body",
            "null-body",
        ],
    )
    def test_bad_types_are_422(self, api: Api, admin_headers: dict[str, str], payload: Any) -> None:
        before = count_rows(api, "users")
        response = api.client.post(USERS, json=payload, headers=admin_headers)
        problem = assert_problem(response, 422, instance=USERS)
        assert isinstance(problem["errors"], list) and problem["errors"]
        assert count_rows(api, "users") == before

    def test_short_password_is_422(self, api: Api, admin_headers: dict[str, str]) -> None:
        response = api.client.post(
            USERS, json={"username": "short-pw", "password": "elevenchars"}, headers=admin_headers
        )
        assert_problem(response, 422, instance=USERS)

    def test_errors_never_echo_the_input(self, api: Api, admin_headers: dict[str, str]) -> None:
        secret = "hunter2-very-secret-value"
        payload = {"username": "echo", "password": secret, "role": secret, "extra": secret}
        response = api.client.post(USERS, json=payload, headers=admin_headers)
        assert_problem(response, 422, instance=USERS)
        assert secret not in response.text

    @pytest.mark.parametrize("query", ["limit=0", "limit=201", "offset=-1", "limit=abc", "limit=1e9"])
    def test_bad_query_parameters_are_422(self, api: Api, admin_headers: dict[str, str], query: str) -> None:
        response = api.client.get(f"{USERS}?{query}", headers=admin_headers)
        assert_problem(response, 422, instance=USERS)


class TestRateLimited:
    def test_token_endpoint_limit_is_429_with_retry_after(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_token": "2/minute"})
        for _ in range(2):
            response = api.client.post(TOKEN, data={"username": "nobody", "password": "wrong password"})
            assert_problem(response, 401, instance=TOKEN)
        response = api.client.post(TOKEN, data={"username": "nobody", "password": "wrong password"})
        problem = assert_problem(response, 429, instance=TOKEN)
        assert problem["type"] == PROBLEM_BASE + "rate-limited"
        assert response.headers["retry-after"].isdigit() and int(response.headers["retry-after"]) >= 1

    def test_general_limit_is_429_with_retry_after(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_default": "2/minute"})
        for _ in range(2):
            assert_problem(api.client.get(ME), 401, instance=ME)
        response = api.client.get(ME)
        problem = assert_problem(response, 429, instance=ME)
        assert problem["type"] == PROBLEM_BASE + "rate-limited"
        assert response.headers["retry-after"].isdigit() and int(response.headers["retry-after"]) >= 1


def _boom() -> None:
    password = "hunter2-in-a-local"  # noqa: F841 - must not reach the client
    raise RuntimeError("database exploded at /srv/nexus/secret.py with token nxr_supersecret0123456789")


class TestInternalError:
    @pytest.fixture
    def booming(self, api_factory: ApiFactory) -> Api:
        api = api_factory()
        api.app.add_api_route("/api/v1/boom", _boom, methods=["GET"])
        api.app.add_api_route("/boom", _boom, methods=["GET"])
        return api

    @pytest.mark.parametrize("path", ["/api/v1/boom", "/boom"])
    def test_unhandled_error_is_a_bare_500(self, booming: Api, path: str) -> None:
        response = booming.client.get(path)
        problem = assert_problem(response, 500, instance=path)
        assert problem["type"] == PROBLEM_BASE + "internal-error"
        for leak in (
            "Traceback",
            "RuntimeError",
            "exploded",
            "secret.py",
            "nxr_supersecret",
            "hunter2",
            "_boom",
        ):
            assert leak not in response.text
        assert GENERATED_REQUEST_ID.match(problem["request_id"])

    def test_500_carries_the_clients_request_id(self, booming: Api) -> None:
        response = booming.client.get("/api/v1/boom", headers={"X-Request-ID": "trace-500.abc_1"})
        problem = assert_problem(response, 500)
        assert problem["request_id"] == "trace-500.abc_1"

    def test_app_keeps_serving_after_a_500(self, booming: Api) -> None:
        assert booming.client.get("/boom").status_code == 500
        assert booming.client.get("/health/live").status_code == 200


class TestRequestId:
    @pytest.mark.parametrize(
        "given",
        ["abc-123", "A.b_C-9", "x" * 64, uuid.uuid4().hex, str(uuid.uuid4())],
        ids=["dashed", "mixed", "64-chars", "hex", "uuid"],
    )
    @pytest.mark.parametrize("path", ["/health/live", ME])
    def test_plain_request_id_is_kept(self, api: Api, given: str, path: str) -> None:
        response = api.client.get(path, headers={"X-Request-ID": given})
        assert response.headers["x-request-id"] == given
        if response.status_code >= 400:
            assert assert_problem(response, response.status_code)["request_id"] == given

    @pytest.mark.parametrize(
        "given",
        [
            "<script>alert(1)</script>",
            "x" * 200,
            "x" * 65,
            "",
            " ",
            "../../etc/passwd",
            "id with spaces",
            "1' OR '1'='1",
            "a;b",
            "%0d%0aSet-Cookie:x=1",
            "${jndi:ldap://x}",
        ],
        ids=[
            "script",
            "200-chars",
            "65-chars",
            "empty",
            "space",
            "traversal",
            "spaces",
            "sql",
            "semicolon",
            "crlf-encoded",
            "jndi",
        ],
    )
    @pytest.mark.parametrize("path", ["/health/live", ME])
    def test_hostile_request_id_is_replaced(self, api: Api, given: str, path: str) -> None:
        response = api.client.get(path, headers={"X-Request-ID": given})
        returned = response.headers["x-request-id"]
        assert returned != given
        assert GENERATED_REQUEST_ID.match(returned)
        if response.status_code >= 400:
            assert assert_problem(response, response.status_code)["request_id"] == returned

    def test_each_request_gets_its_own_id(self, api: Api) -> None:
        ids = {api.client.get(ME).headers["x-request-id"] for _ in range(5)}
        assert len(ids) == 5


HOSTILE_USERNAMES = [
    pytest.param("admin' OR '1'='1", id="sql-or"),
    pytest.param("x; DROP TABLE users;--", id="sql-drop"),
    pytest.param("admin'--", id="sql-comment"),
    pytest.param('" UNION SELECT password_hash FROM users --', id="sql-union"),
    pytest.param("<script>alert(1)</script>", id="script"),
    pytest.param("<img src=x onerror=alert(1)>", id="img-onerror"),
    pytest.param("{{7*7}}", id="template"),
    pytest.param("${jndi:ldap://evil/a}", id="jndi"),
    pytest.param("a" * 200, id="long-200"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param("\u0430dmin", id="cyrillic-a"),
    pytest.param("admin\u200b", id="zero-width-space"),
    pytest.param("\uff41\uff44\uff4d\uff49\uff4e", id="fullwidth"),
    pytest.param("adm\u0131n", id="dotless-i"),
    pytest.param("adm\x00in", id="null-byte"),
    pytest.param("\x00", id="only-null"),
    pytest.param("admin\r\nX-Injected: 1", id="crlf"),
    pytest.param("../../etc/passwd", id="traversal"),
    pytest.param("\U0001f600\U0001f600\U0001f600", id="emoji"),
    pytest.param("\ud800", id="lone-surrogate"),
]


class TestHostileUserCreate:
    @pytest.mark.parametrize("username", HOSTILE_USERNAMES)
    def test_hostile_username_writes_nothing(
        self, api: Api, admin_headers: dict[str, str], database_url: str, username: str
    ) -> None:
        users, audit = count_rows(api, "users"), count_rows(api, "audit_events")
        # json.dumps escapes to ASCII, so even a lone surrogate travels (as a JSON \\u escape).
        body = json.dumps({"username": username, "password": PASSWORD})
        response = api.client.post(USERS, content=body, headers={**admin_headers, **JSON_TYPE})
        assert 400 <= response.status_code < 500, response.text
        assert_problem(response, response.status_code, instance=USERS)
        assert count_rows(api, "users") == users
        assert count_rows(api, "audit_events") == audit
        assert api.client.get("/health/ready").status_code == 200

    @pytest.mark.parametrize("username", ["a" * 65, "a" * 10_000, "b" * 1_000_000])
    def test_overlong_username_writes_nothing(
        self, api: Api, admin_headers: dict[str, str], username: str
    ) -> None:
        users = count_rows(api, "users")
        response = api.client.post(
            USERS, json={"username": username, "password": PASSWORD}, headers=admin_headers
        )
        assert response.status_code in (413, 422), response.text
        assert_problem(response, response.status_code, instance=USERS)
        assert count_rows(api, "users") == users

    @pytest.mark.parametrize(
        "password",
        [
            pytest.param("\x00" * 20, id="nulls"),
            pytest.param("p" * 5000, id="huge"),
            pytest.param("", id="empty"),
        ],
    )
    def test_hostile_password_never_500s(
        self, api: Api, admin_headers: dict[str, str], database_url: str, password: str
    ) -> None:
        users = count_rows(api, "users")
        response = api.client.post(
            USERS, json={"username": "pw-victim", "password": password}, headers=admin_headers
        )
        if response.status_code == 201:
            assert count_rows(api, "users") == users + 1
        else:
            assert 400 <= response.status_code < 500, response.text
            assert_problem(response, response.status_code, instance=USERS)
            assert count_rows(api, "users") == users


class TestHostileLogin:
    @pytest.mark.parametrize("username", HOSTILE_USERNAMES)
    def test_hostile_username_login_is_401(self, api: Api, database_url: str, username: str) -> None:
        api.add_user("admin", Role.ADMIN)
        users = count_rows(api, "users")
        # surrogatepass lets a lone surrogate travel as its (invalid UTF-8) percent-encoded bytes.
        form = urlencode({"username": username, "password": PASSWORD}, errors="surrogatepass")
        response = api.client.post(TOKEN, content=form, headers=FORM_TYPE)
        problem = assert_problem(response, 401, instance=TOKEN)
        assert problem["detail"] == "Incorrect username or password."
        assert "access_token" not in response.text
        assert count_rows(api, "users") == users

    @pytest.mark.parametrize(
        "password",
        ["' OR '1'='1", "\x00", PASSWORD + "\x00", "x" * 1000, " ", ""],
        ids=["sql", "null", "trailing-null", "long", "blank", "empty"],
    )
    def test_hostile_password_login_is_401(self, api: Api, database_url: str, password: str) -> None:
        api.add_user("admin", Role.ADMIN)
        response = api.client.post(TOKEN, data={"username": "admin", "password": password})
        assert_problem(response, 401, instance=TOKEN)


class TestDatabaseRefusal:
    def test_a_value_the_database_refuses_is_the_clients_error(self, api: Api) -> None:
        from sqlalchemy.exc import DataError

        def refuse() -> None:
            raise DataError(
                "INSERT ...", {}, ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
            )

        api.app.add_api_route("/refuse", refuse)
        response = api.client.get("/refuse")
        problem = assert_problem(response, 400, instance="/refuse")
        assert "NUL" not in problem["detail"] and "INSERT" not in response.text
