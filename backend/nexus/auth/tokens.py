"""Access tokens (short-lived JWTs) and refresh tokens (opaque, hashed at rest)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from nexus.auth.keys import SigningKeys
from nexus.config import AuthSettings
from nexus.errors import Unauthorized
from nexus.users.models import Role, User

ACCESS_TOKEN_TYPE = "at+jwt"
REFRESH_PREFIX = "nxr_"
_REQUIRED_CLAIMS = ["sub", "role", "exp", "iat", "jti", "iss", "aud"]
_LEEWAY_S = 10


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: uuid.UUID
    role: Role
    issued_at: int
    expires_at: int
    token_id: str


class AccessTokens:
    """Issue and verify access tokens with one pinned algorithm."""

    def __init__(self, keys: SigningKeys, settings: AuthSettings) -> None:
        self._keys = keys
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self.ttl_s = settings.access_token_ttl_s

    def issue(self, user: User, *, now: int | None = None) -> str:
        """Return a signed access token for a user."""
        issued = int(time.time()) if now is None else now
        claims: dict[str, Any] = {
            "sub": str(user.id),
            "role": user.role.value,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl_s,
            "jti": uuid.uuid4().hex,
            "iss": self._issuer,
            "aud": self._audience,
        }
        return jwt.encode(
            claims, self._keys.signing_key, algorithm=self._keys.algorithm, headers={"typ": ACCESS_TOKEN_TYPE}
        )

    def verify(self, token: str) -> AccessClaims:
        """Return the claims of a valid token, or raise Unauthorized (the reason stays in the logs)."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("typ") != ACCESS_TOKEN_TYPE:
                raise jwt.InvalidTokenError("not an access token")
            claims = jwt.decode(
                token,
                self._keys.verification_key,
                algorithms=[self._keys.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=_LEEWAY_S,
                options={"require": _REQUIRED_CLAIMS},
            )
            return AccessClaims(
                user_id=uuid.UUID(str(claims["sub"])),
                role=Role(claims["role"]),
                issued_at=int(claims["iat"]),
                expires_at=int(claims["exp"]),
                token_id=str(claims["jti"]),
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("The access token has expired; refresh it.") from error
        except (jwt.InvalidTokenError, ValueError, TypeError, KeyError) as error:
            raise Unauthorized("The access token is not valid.") from error


def new_refresh_token() -> str:
    """Return a fresh opaque refresh token (prefixed, so secret scanners and our log redaction spot it)."""
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """Return the value stored for a refresh token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
