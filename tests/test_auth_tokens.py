"""Access tokens: the attack table, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from nexus.users.models import Role
from tests.fixtures.app import TEST_SECRET, Api, ApiFactory

pytestmark = pytest.mark.usefixtures("database_url")

ME = "/api/v1/users/me"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def _hmac_token(
    header: dict[str, Any], claims: dict[str, Any], key: bytes, digest: Any = hashlib.sha256
) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def _claims(api: Api, user_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": user_id,
        "role": "admin",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "iss": api.runtime.settings.auth.jwt_issuer,
        "aud": api.runtime.settings.auth.jwt_audience,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


HEADER = {"alg": "HS256", "typ": "at+jwt"}
SECRET = TEST_SECRET.encode()

Forge = Callable[[Api, str, str], str]


def _none_alg(api: Api, user_id: str, _valid: str) -> str:
    claims = _claims(api, user_id)
    return (
        f"{_b64(json.dumps({'alg': 'none', 'typ': 'at+jwt'}).encode())}.{_b64(json.dumps(claims).encode())}."
    )


def _none_alg_with_signature(api: Api, user_id: str, valid: str) -> str:
    return _none_alg(api, user_id, valid) + valid.rsplit(".", 1)[1]


def _wrong_key(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, user_id), b"another-secret-that-is-long-enough-0123456789")


def _tampered_payload(api: Api, user_id: str, valid: str) -> str:
    header, payload, signature = valid.split(".")
    claims = _segments(valid)[1]
    claims["role"] = "admin"
    claims["sub"] = user_id
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _expired(api: Api, user_id: str, _valid: str) -> str:
    past = int(time.time()) - 3600
    return _hmac_token(HEADER, _claims(api, user_id, iat=past, nbf=past, exp=past + 60), SECRET)


def _not_yet_valid(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, user_id, nbf=int(time.time()) + 3600), SECRET)


def _wrong_audience(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, user_id, aud="another-api"), SECRET)


def _wrong_issuer(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, user_id, iss="https://evil.example"), SECRET)


def _missing_jti(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, user_id, jti=None), SECRET)


def _missing_exp(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, user_id, exp=None), SECRET)


def _other_hmac_alg(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token({"alg": "HS512", "typ": "at+jwt"}, _claims(api, user_id), SECRET, hashlib.sha512)


def _wrong_type(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token({"alg": "HS256", "typ": "JWT"}, _claims(api, user_id), SECRET)


def _unknown_subject(api: Api, _user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, str(uuid.uuid4())), SECRET)


def _subject_not_uuid(api: Api, _user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, "admin' OR '1'='1"), SECRET)


def _unknown_role(api: Api, user_id: str, _valid: str) -> str:
    return _hmac_token(HEADER, _claims(api, user_id, role="superuser"), SECRET)


def _refresh_token_as_access(api: Api, _user_id: str, _valid: str) -> str:
    return str(api.login("mallory")["refresh_token"])


ATTACKS: dict[str, Forge] = {
    "alg none": _none_alg,
    "alg none keeping a real signature": _none_alg_with_signature,
    "signed with another key": _wrong_key,
    "payload tampered (role, sub)": _tampered_payload,
    "expired": _expired,
    "not yet valid": _not_yet_valid,
    "wrong audience": _wrong_audience,
    "wrong issuer": _wrong_issuer,
    "missing jti": _missing_jti,
    "missing exp": _missing_exp,
    "HS512 where HS256 is pinned": _other_hmac_alg,
    "typ is not at+jwt": _wrong_type,
    "subject of no user": _unknown_subject,
    "subject is not a uuid": _subject_not_uuid,
    "unknown role": _unknown_role,
    "refresh token as access token": _refresh_token_as_access,
}

GARBAGE = ["", "x", "a.b.c", "eyJ.eyJ.", "..", "Bearer", "%00%0a", "A" * 5000, "null", "e30.e30.e30"]


class TestForgedTokens:
    @pytest.mark.parametrize("forge", ATTACKS.values(), ids=ATTACKS.keys())
    def test_forged_token_is_refused(self, api: Api, forge: Forge) -> None:
        admin = api.add_user("root", Role.ADMIN)
        api.add_user("mallory", Role.VIEWER)
        valid = api.login("mallory")["access_token"]
        assert api.client.get(ME, headers={"Authorization": f"Bearer {valid}"}).status_code == 200

        forged = forge(api, str(admin.id), valid)
        response = api.client.get(ME, headers={"Authorization": f"Bearer {forged}"})

        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("token", GARBAGE)
    def test_garbage_is_refused(self, api: Api, token: str) -> None:
        response = api.client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401

    @pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", "bearer", "Bearer  "])
    def test_other_schemes_are_refused(self, api: Api, header: str) -> None:
        assert api.client.get(ME, headers={"Authorization": header}).status_code == 401

    def test_an_honestly_signed_token_passes(self, api: Api) -> None:
        """The forgeries above fail for their flaw, not because forging is broken: this one is right."""
        user = api.add_user("root", Role.ADMIN)
        token = _hmac_token(HEADER, _claims(api, str(user.id)), SECRET)
        assert api.client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 200


class TestTokensOfChangedUsers:
    def test_deleted_user(self, api: Api) -> None:
        admin_headers = api.headers_for("root", Role.ADMIN)
        victim = api.add_user("leaver")
        token = api.login("leaver")["access_token"]
        assert api.client.delete(f"/api/v1/users/{victim.id}", headers=admin_headers).status_code == 204
        assert api.client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 401

    def test_disabled_user(self, api: Api) -> None:
        admin_headers = api.headers_for("root", Role.ADMIN)
        victim = api.add_user("suspended")
        token = api.login("suspended")["access_token"]
        patched = api.client.patch(
            f"/api/v1/users/{victim.id}", json={"is_active": False}, headers=admin_headers
        )
        assert patched.status_code == 200
        assert api.client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 401

    def test_role_comes_from_the_database_not_the_token(self, api: Api) -> None:
        admin_headers = api.headers_for("root", Role.ADMIN)
        demoted = api.add_user("second-admin", Role.ADMIN)
        token = api.login("second-admin")["access_token"]
        api.client.patch(f"/api/v1/users/{demoted.id}", json={"role": "viewer"}, headers=admin_headers)
        response = api.client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403

    def test_password_change_ends_older_tokens(self, api: Api) -> None:
        api.add_user("changer")
        old = api.login("changer")["access_token"]
        time.sleep(1.1)  # iat has one-second resolution
        changed = api.client.post(
            "/api/v1/users/me/password",
            json={
                "current_password": "correct horse battery staple",
                "new_password": "a brand new passphrase",
            },
            headers={"Authorization": f"Bearer {old}"},
        )
        assert changed.status_code == 204
        assert api.client.get(ME, headers={"Authorization": f"Bearer {old}"}).status_code == 401
        fresh = api.login("changer", "a brand new passphrase")["access_token"]
        assert api.client.get(ME, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


class TestIssuedClaims:
    def test_claims(self, api: Api) -> None:
        user = api.add_user("claims", Role.VIEWER)
        before = int(time.time())
        header, claims, _ = _segments(api.login("claims")["access_token"])
        assert header == {"alg": "HS256", "typ": "at+jwt"}
        assert set(claims) >= {"sub", "role", "exp", "iat", "jti", "iss", "aud"}
        assert claims["sub"] == str(user.id)
        assert claims["role"] == "viewer"
        assert claims["aud"] == "nexus-api" and claims["iss"] == "nexus"
        assert before <= claims["iat"] <= before + 5
        assert claims["exp"] - claims["iat"] == 900

    def test_jti_is_unique(self, api: Api) -> None:
        api.add_user("twice")
        first = _segments(api.login("twice")["access_token"])[1]["jti"]
        second = _segments(api.login("twice")["access_token"])[1]["jti"]
        assert first != second


def _write_pem(path: Path, key: Any) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _public_pem(key: Any) -> bytes:
    return bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


class TestAsymmetricKeys:
    @pytest.mark.parametrize(
        ("algorithm", "make_key"),
        [
            ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
        ],
    )
    def test_signs_and_verifies(
        self, api_factory: ApiFactory, tmp_path: Path, algorithm: str, make_key: Any
    ) -> None:
        key_file = _write_pem(tmp_path / "jwt.pem", make_key())
        api = api_factory(auth={"jwt_algorithm": algorithm, "jwt_private_key_file": key_file})
        api.add_user("asym")
        token = api.login("asym")["access_token"]
        assert _segments(token)[0]["alg"] == algorithm
        assert api.client.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    def test_hs_rs_confusion_is_refused(self, api_factory: ApiFactory, tmp_path: Path) -> None:
        """A token HMAC-signed with the server's public key must not pass as RS256."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        api = api_factory(
            auth={"jwt_algorithm": "RS256", "jwt_private_key_file": _write_pem(tmp_path / "k.pem", key)}
        )
        user = api.add_user("confused", Role.ADMIN)
        forged = _hmac_token(HEADER, _claims(api, str(user.id)), _public_pem(key))
        assert api.client.get(ME, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
        rs_header_forged = _hmac_token(
            {"alg": "RS256", "typ": "at+jwt"}, _claims(api, str(user.id)), _public_pem(key)
        )
        assert api.client.get(ME, headers={"Authorization": f"Bearer {rs_header_forged}"}).status_code == 401

    def test_token_of_another_rsa_key_is_refused(self, api_factory: ApiFactory, tmp_path: Path) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        api = api_factory(
            auth={"jwt_algorithm": "RS256", "jwt_private_key_file": _write_pem(tmp_path / "k.pem", key)}
        )
        user = api.add_user("other-key", Role.ADMIN)
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        forged = jwt.encode(
            _claims(api, str(user.id)), stranger, algorithm="RS256", headers={"typ": "at+jwt"}
        )
        assert api.client.get(ME, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
