"""Signing keys for access tokens, resolved once at start-up.

HS256 (default) uses ``NEXUS_JWT_SECRET``; in development, when it is unset, a random key is generated
once and kept in ``<data dir>/secrets/jwt_secret`` (mode 0600). RS256/ES256 read PEM files. With
``NEXUS_ENV=production`` a missing or weak key is a ``ConfigurationError`` that stops start-up.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from nexus.config import Settings

MIN_SECRET_BYTES = 32
MIN_RSA_BITS = 2048
_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "nexus", "development", "test"}

log = structlog.get_logger(__name__)


class ConfigurationError(Exception):
    """Settings that must not be served with; the message says what to set."""


@dataclass(frozen=True)
class SigningKeys:
    """The pinned algorithm and the keys to sign and verify access tokens with."""

    algorithm: str
    signing_key: Any
    verification_key: Any


def _secret_file(settings: Settings) -> Path:
    return settings.storage.data_dir / "secrets" / "jwt_secret"


def _development_secret(settings: Settings) -> str:
    path = _secret_file(settings)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = secrets.token_urlsafe(64)
    # O_EXCL: two processes starting at once must not both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    log.info("jwt_secret_generated", path=str(path))
    return secret


def _hmac_keys(settings: Settings) -> SigningKeys:
    configured = settings.auth.jwt_secret.get_secret_value() if settings.auth.jwt_secret else ""
    if not configured:
        if settings.is_production:
            raise ConfigurationError(
                "NEXUS_JWT_SECRET is not set. In production set it to a random value of at least "
                f"{MIN_SECRET_BYTES} bytes, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
            )
        secret = _development_secret(settings)
    else:
        secret = configured
        weak = len(secret.encode()) < MIN_SECRET_BYTES or secret.strip().lower() in _PLACEHOLDERS
        if weak and settings.is_production:
            raise ConfigurationError(
                f"NEXUS_JWT_SECRET is too weak: use a random value of at least {MIN_SECRET_BYTES} bytes."
            )
        if weak:
            log.warning("jwt_secret_weak", min_bytes=MIN_SECRET_BYTES)
    return SigningKeys(settings.auth.jwt_algorithm, secret, secret)


def _read_pem(path: Path | None, what: str) -> bytes:
    if path is None:
        raise ConfigurationError(
            f"NEXUS_JWT_{what.upper()}_KEY_FILE must be set for asymmetric JWT algorithms."
        )
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"Cannot read the JWT {what} key file {path}: {error.strerror}.") from error


def _asymmetric_keys(settings: Settings) -> SigningKeys:
    algorithm = settings.auth.jwt_algorithm
    try:
        private = serialization.load_pem_private_key(
            _read_pem(settings.auth.jwt_private_key_file, "private"), None
        )
    except (ValueError, TypeError) as error:
        raise ConfigurationError(f"The JWT private key is not an unencrypted PEM key: {error}") from error
    if algorithm == "RS256":
        if not isinstance(private, rsa.RSAPrivateKey) or private.key_size < MIN_RSA_BITS:
            raise ConfigurationError(f"RS256 needs an RSA private key of at least {MIN_RSA_BITS} bits.")
    elif not isinstance(private, ec.EllipticCurvePrivateKey) or not isinstance(private.curve, ec.SECP256R1):
        raise ConfigurationError("ES256 needs an EC private key on the P-256 curve.")
    public: Any = private.public_key()
    if settings.auth.jwt_public_key_file is not None:
        public = serialization.load_pem_public_key(_read_pem(settings.auth.jwt_public_key_file, "public"))
        if public.public_numbers() != private.public_key().public_numbers():
            raise ConfigurationError("The JWT public key file does not match the private key.")
    return SigningKeys(algorithm, private, public)


def load_signing_keys(settings: Settings) -> SigningKeys:
    """Resolve the access-token keys, or raise ConfigurationError saying what to fix."""
    if settings.auth.jwt_algorithm.startswith("HS"):
        return _hmac_keys(settings)
    return _asymmetric_keys(settings)
