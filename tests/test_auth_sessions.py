"""Sign-in, refresh rotation with reuse detection, sign-out, and the audit log: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from nexus.audit.models import AuditEvent
from nexus.auth.models import RefreshToken
from nexus.db import utcnow
from nexus.users.models import Role
from tests.fixtures.app import PASSWORD, Api

pytestmark = pytest.mark.usefixtures("database_url")

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"


def _refresh(api: Api, token: str) -> Any:
    return api.client.post(REFRESH, json={"refresh_token": token})


def _events(api: Api) -> list[str]:
    with api.runtime.sessions() as session:
        return [e.event for e in session.scalars(select(AuditEvent).order_by(AuditEvent.at))]


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


class TestSignIn:
    def test_password_form_returns_a_pair(self, api: Api) -> None:
        api.add_user("ada")
        response = api.client.post(TOKEN, data={"username": "ada", "password": PASSWORD})
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        assert body["refresh_token"].startswith("nxr_")
        assert response.headers["cache-control"] == "no-store"
        assert api.client.get(ME, headers=_bearer(body)).json()["username"] == "ada"

    def test_username_is_case_insensitive(self, api: Api) -> None:
        api.add_user("Grace.Hopper")
        assert (
            api.client.post(TOKEN, data={"username": " GRACE.hopper ", "password": PASSWORD}).status_code
            == 200
        )

    @pytest.mark.parametrize(
        ("username", "password"),
        [
            ("ada", "wrong password!"),
            ("nobody", PASSWORD),
            ("ada", ""),
            ("", PASSWORD),
            ("ada", PASSWORD.upper()),
        ],
    )
    def test_wrong_credentials_get_one_answer(self, api: Api, username: str, password: str) -> None:
        api.add_user("ada")
        response = api.client.post(TOKEN, data={"username": username, "password": password})
        assert response.status_code in {401, 422}
        assert response.headers["content-type"] == "application/problem+json"
        if response.status_code == 401:
            assert response.json()["detail"] == "Incorrect username or password."

    def test_disabled_user_cannot_sign_in(self, api: Api) -> None:
        user = api.add_user("gone")
        with api.runtime.sessions() as session:
            session.get(type(user), user.id).is_active = False  # type: ignore[union-attr]
            session.commit()
        response = api.client.post(TOKEN, data={"username": "gone", "password": PASSWORD})
        assert response.status_code == 401

    def test_json_body_is_not_the_password_form(self, api: Api) -> None:
        api.add_user("ada")
        response = api.client.post(TOKEN, json={"username": "ada", "password": PASSWORD})
        assert response.status_code == 415


class TestRefreshRotation:
    def test_refresh_rotates_the_pair(self, api: Api) -> None:
        api.add_user("ada")
        first = api.login("ada")
        response = _refresh(api, first["refresh_token"])
        assert response.status_code == 200
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        assert api.client.get(ME, headers=_bearer(second)).status_code == 200

    def test_reuse_of_a_rotated_token_revokes_the_family(self, api: Api) -> None:
        api.add_user("ada")
        first = api.login("ada")
        second = _refresh(api, first["refresh_token"]).json()

        replay = _refresh(api, first["refresh_token"])
        assert replay.status_code == 401
        assert replay.headers["content-type"] == "application/problem+json"
        # The thief's replay also kills the legitimate holder's newer token: the family is gone.
        assert _refresh(api, second["refresh_token"]).status_code == 401
        assert "token.refresh_reuse_detected" in _events(api)

    def test_reuse_leaves_other_sign_ins_alone(self, api: Api) -> None:
        api.add_user("ada")
        laptop = api.login("ada")
        phone = api.login("ada")
        _refresh(api, laptop["refresh_token"])
        _refresh(api, laptop["refresh_token"])
        assert _refresh(api, phone["refresh_token"]).status_code == 200

    def test_expired_refresh_token(self, api: Api) -> None:
        api.add_user("ada")
        pair = api.login("ada")
        with api.runtime.sessions() as session:
            session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
            session.commit()
        assert _refresh(api, pair["refresh_token"]).status_code == 401

    @pytest.mark.parametrize("token", ["nxr_" + "A" * 43, "not-a-token", "x" * 256])
    def test_unknown_refresh_token(self, api: Api, token: str) -> None:
        assert _refresh(api, token).status_code == 401

    def test_access_token_is_not_a_refresh_token(self, api: Api) -> None:
        api.add_user("ada")
        assert _refresh(api, api.login("ada")["access_token"][:256]).status_code == 401

    def test_refresh_of_disabled_user(self, api: Api) -> None:
        admin = api.headers_for("root", Role.ADMIN)
        user = api.add_user("ada")
        pair = api.login("ada")
        api.client.patch(f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin)
        assert _refresh(api, pair["refresh_token"]).status_code == 401

    def test_only_the_hash_is_stored(self, api: Api) -> None:
        api.add_user("ada")
        pair = api.login("ada")
        with api.runtime.sessions() as session:
            stored = list(session.scalars(select(RefreshToken.token_hash)))
        assert pair["refresh_token"] not in stored
        assert len(stored) == 1 and len(stored[0]) == 64

    def test_concurrent_refreshes_let_exactly_one_win(self, api: Api) -> None:
        api.add_user("ada")
        token = api.login("ada")["refresh_token"]
        barrier = threading.Barrier(4)
        statuses: list[int] = []

        def attempt() -> None:
            barrier.wait()
            statuses.append(_refresh(api, token).status_code)

        threads = [threading.Thread(target=attempt) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 401, 401, 401]


class TestLogout:
    def test_logout_revokes_the_family(self, api: Api) -> None:
        api.add_user("ada")
        pair = api.login("ada")
        response = api.client.post(
            LOGOUT, json={"refresh_token": pair["refresh_token"]}, headers=_bearer(pair)
        )
        assert response.status_code == 204
        assert _refresh(api, pair["refresh_token"]).status_code == 401
        assert "token.revoked" in _events(api)

    def test_logout_needs_an_access_token(self, api: Api) -> None:
        api.add_user("ada")
        pair = api.login("ada")
        assert api.client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]}).status_code == 401
        assert _refresh(api, pair["refresh_token"]).status_code == 200

    def test_cannot_log_out_someone_else(self, api: Api) -> None:
        api.add_user("ada")
        api.add_user("eve")
        victim = api.login("ada")
        attacker = api.login("eve")
        api.client.post(LOGOUT, json={"refresh_token": victim["refresh_token"]}, headers=_bearer(attacker))
        assert _refresh(api, victim["refresh_token"]).status_code == 200


class TestAuditLog:
    def test_every_kind_of_event_is_recorded(self, api: Api) -> None:
        admin = api.headers_for("root", Role.ADMIN)
        api.client.post(TOKEN, data={"username": "root", "password": "wrong password"})
        created = api.client.post(
            "/api/v1/users", json={"username": "bob", "password": PASSWORD, "role": "viewer"}, headers=admin
        ).json()
        api.client.patch(f"/api/v1/users/{created['id']}", json={"role": "analyst"}, headers=admin)
        pair = api.login("bob")
        pair = _refresh(api, pair["refresh_token"]).json()
        api.client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]}, headers=_bearer(pair))
        api.client.delete(f"/api/v1/users/{created['id']}", headers=admin)

        assert set(_events(api)) >= {
            "user.created",
            "login.succeeded",
            "login.failed",
            "user.updated",
            "token.refreshed",
            "token.revoked",
            "user.deleted",
        }

    def test_failed_login_records_the_attempt_but_not_the_password(self, api: Api) -> None:
        api.client.post(
            TOKEN, data={"username": "root", "password": "hunter2-secret"}, headers={"X-Request-ID": "r-1"}
        )
        with api.runtime.sessions() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.event == "login.failed")).one()
        assert event.subject == "root"
        assert event.request_id == "r-1"
        assert event.client_ip == "testclient"
        assert "hunter2-secret" not in repr(event.details)
