"""User routes: roles, admin management, last-admin protection; SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from nexus.users.models import Role, User
from tests.fixtures.app import PASSWORD, Api

pytestmark = pytest.mark.usefixtures("database_url")

USERS = "/api/v1/users"

# (method, path, json body) -> expected status per role
MATRIX = [
    ("GET", "/api/v1/users/me", None, {"admin": 200, "analyst": 200, "viewer": 200}),
    ("GET", USERS, None, {"admin": 200, "analyst": 403, "viewer": 403}),
    (
        "POST",
        USERS,
        {"username": "newbie", "password": PASSWORD},
        {"admin": 201, "analyst": 403, "viewer": 403},
    ),
    ("PATCH", USERS + "/{target}", {"role": "viewer"}, {"admin": 200, "analyst": 403, "viewer": 403}),
    ("DELETE", USERS + "/{target}", None, {"admin": 204, "analyst": 403, "viewer": 403}),
]


class TestRoleMatrix:
    @pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
    @pytest.mark.parametrize(
        ("method", "path", "body", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
    )
    def test_role_matrix(
        self,
        api: Api,
        role: str,
        method: str,
        path: str,
        body: dict[str, str] | None,
        expected: dict[str, int],
    ) -> None:
        if role != "admin":
            api.add_user("keeper", Role.ADMIN)  # so an admin exists whatever the caller is
        headers = api.headers_for(f"caller-{role}", Role(role))
        target = api.add_user("target")
        response = api.client.request(method, path.format(target=target.id), json=body, headers=headers)
        assert response.status_code == expected[role], response.text
        if response.status_code == 403:
            assert response.headers["content-type"] == "application/problem+json"
            with api.runtime.sessions() as session:
                assert session.get(User, target.id) is not None
                assert session.get(User, target.id).role is Role.ANALYST  # type: ignore[union-attr]


class TestAdminManagement:
    def test_create_list_update_delete(self, api: Api, admin_headers: dict[str, str]) -> None:
        created = api.client.post(
            USERS,
            json={"username": "Bob.Builder", "password": PASSWORD, "role": "viewer"},
            headers=admin_headers,
        )
        assert created.status_code == 201
        bob = created.json()
        assert bob["username"] == "bob.builder" and bob["role"] == "viewer" and "password" not in str(bob)

        page = api.client.get(USERS, params={"limit": 1, "offset": 1}, headers=admin_headers).json()
        assert page["total"] == 2 and [u["username"] for u in page["items"]] == ["bob.builder"]

        patched = api.client.patch(f"{USERS}/{bob['id']}", json={"role": "analyst"}, headers=admin_headers)
        assert patched.json()["role"] == "analyst"

        assert api.client.delete(f"{USERS}/{bob['id']}", headers=admin_headers).status_code == 204
        assert api.client.delete(f"{USERS}/{bob['id']}", headers=admin_headers).status_code == 404

    def test_duplicate_username_is_a_conflict(self, api: Api, admin_headers: dict[str, str]) -> None:
        body = {"username": "twin", "password": PASSWORD}
        assert api.client.post(USERS, json=body, headers=admin_headers).status_code == 201
        again = api.client.post(USERS, json={**body, "username": "TWIN"}, headers=admin_headers)
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"

    def test_short_password_is_refused(self, api: Api, admin_headers: dict[str, str]) -> None:
        response = api.client.post(
            USERS, json={"username": "shorty", "password": "short123"}, headers=admin_headers
        )
        assert response.status_code == 422
        with api.runtime.sessions() as session:
            assert session.scalar(select(func.count()).select_from(User)) == 1

    def test_admin_resets_a_password(self, api: Api, admin_headers: dict[str, str]) -> None:
        user = api.add_user("forgetful")
        pair = api.login("forgetful")
        response = api.client.patch(
            f"{USERS}/{user.id}", json={"password": "a fresh long password"}, headers=admin_headers
        )
        assert response.status_code == 200
        assert (
            api.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code
            == 401
        )
        api.login("forgetful", "a fresh long password")

    def test_unknown_user(self, api: Api, admin_headers: dict[str, str]) -> None:
        response = api.client.patch(f"{USERS}/{uuid.uuid4()}", json={"role": "viewer"}, headers=admin_headers)
        assert response.status_code == 404

    @pytest.mark.parametrize("user_id", ["1", "not-a-uuid", "1 OR 1=1"])
    def test_malformed_user_id(self, api: Api, admin_headers: dict[str, str], user_id: str) -> None:
        assert api.client.delete(f"{USERS}/{user_id}", headers=admin_headers).status_code == 422


class TestLastAdmin:
    @pytest.mark.parametrize("change", [{"role": "analyst"}, {"is_active": False}])
    def test_last_admin_cannot_be_demoted_or_disabled(self, api: Api, change: dict[str, object]) -> None:
        headers = api.headers_for("only-admin", Role.ADMIN)
        me = api.client.get("/api/v1/users/me", headers=headers).json()
        response = api.client.patch(f"{USERS}/{me['id']}", json=change, headers=headers)
        assert response.status_code == 409
        assert api.client.get("/api/v1/users/me", headers=headers).json()["role"] == "admin"

    def test_last_admin_cannot_be_deleted(self, api: Api) -> None:
        headers = api.headers_for("only-admin", Role.ADMIN)
        me = api.client.get("/api/v1/users/me", headers=headers).json()
        assert api.client.delete(f"{USERS}/{me['id']}", headers=headers).status_code == 409

    def test_an_admin_can_step_down_when_another_remains(self, api: Api) -> None:
        headers = api.headers_for("first-admin", Role.ADMIN)
        api.add_user("second-admin", Role.ADMIN)
        me = api.client.get("/api/v1/users/me", headers=headers).json()
        assert (
            api.client.patch(f"{USERS}/{me['id']}", json={"role": "viewer"}, headers=headers).status_code
            == 200
        )


class TestOwnPassword:
    def test_wrong_current_password(self, api: Api, analyst_headers: dict[str, str]) -> None:
        response = api.client.post(
            f"{USERS}/me/password",
            json={"current_password": "not it at all", "new_password": "another long password"},
            headers=analyst_headers,
        )
        assert response.status_code == 401
        api.login("ana")
