"""Settings and signing keys: documented, read from the environment, refusing unsafe production set-ups."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic_settings import BaseSettings

from nexus.auth.keys import ConfigurationError, load_signing_keys
from nexus.config import Environment, Settings, StorageSettings
from tests.fixtures.app import make_settings

ROOT = Path(__file__).resolve().parents[1]


def _setting_names() -> set[str]:
    names = {"NEXUS_ENV"}
    for field in Settings.model_fields.values():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseSettings):
            names |= {f"NEXUS_{name.upper()}" for name in group.model_fields}
    return names


def _pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class TestEnvExample:
    def test_documents_every_setting_and_nothing_else(self) -> None:
        text = (ROOT / ".env.example").read_text()
        documented = set(re.findall(r"^#?\s*(NEXUS_[A-Z0-9_]+)=", text, flags=re.MULTILINE))
        assert documented == _setting_names()

    def test_gives_no_secret_a_value(self) -> None:
        text = (ROOT / ".env.example").read_text()
        for name in ("NEXUS_JWT_SECRET", "NEXUS_ADMIN_PASSWORD", "NEXUS_METRICS_TOKEN", "NEXUS_SENTRY_DSN"):
            assert re.search(rf"^# {name}=$", text, flags=re.MULTILINE), name


class TestEnvironment:
    def test_flat_variables_fill_nested_groups(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("NEXUS_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("NEXUS_ENV", "PRODUCTION")
        monkeypatch.setenv("NEXUS_RATE_LIMIT_TOKEN", "5/minute")
        monkeypatch.setenv("NEXUS_CORS_ORIGINS", '["https://nexus.example.com"]')
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.storage.data_dir == tmp_path
        assert settings.env is Environment.PRODUCTION and settings.is_production
        assert settings.limits.rate_limit_token == "5/minute"
        assert settings.server.cors_origins == ["https://nexus.example.com"]
        assert settings.auto_migrate is False

    @pytest.mark.parametrize(
        ("given", "resolved"),
        [
            ("postgresql://u:p@db:5432/nexus", "postgresql+psycopg://u:p@db:5432/nexus"),
            ("postgres://u@db/nexus", "postgresql+psycopg://u@db/nexus"),
            ("postgresql+psycopg://u@db/nexus", "postgresql+psycopg://u@db/nexus"),
        ],
    )
    def test_database_url_gets_the_psycopg_driver(self, given: str, resolved: str) -> None:
        storage = StorageSettings(_env_file=None, database_url=given)  # type: ignore[call-arg]
        assert storage.resolved_database_url() == resolved

    def test_default_database_is_sqlite_in_the_data_dir(self, tmp_path: Path) -> None:
        storage = StorageSettings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
        assert storage.resolved_database_url() == f"sqlite:///{tmp_path.resolve() / 'nexus.db'}"


class TestHmacKey:
    def test_development_generates_a_key_once(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, auth={"jwt_secret": None})
        first = load_signing_keys(settings)
        second = load_signing_keys(settings)
        key_file = tmp_path / "secrets" / "jwt_secret"
        assert first.signing_key == second.signing_key == key_file.read_text()
        assert len(first.signing_key) >= 64
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    def test_production_without_key_stops(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, auth={"jwt_secret": None}, env="production")
        with pytest.raises(ConfigurationError, match="NEXUS_JWT_SECRET is not set"):
            load_signing_keys(settings)
        assert not (tmp_path / "secrets").exists()

    @pytest.mark.parametrize("weak", ["short", "changeme", "x" * 31])
    def test_production_with_weak_key_stops(self, tmp_path: Path, weak: str) -> None:
        settings = make_settings(tmp_path, auth={"jwt_secret": weak}, env="production")
        with pytest.raises(ConfigurationError, match="too weak"):
            load_signing_keys(settings)

    def test_production_with_strong_key(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, auth={"jwt_secret": "k" * 40}, env="production")
        assert load_signing_keys(settings).algorithm == "HS256"


class TestAsymmetricKeyFiles:
    def test_missing_file(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, auth={"jwt_algorithm": "RS256"})
        with pytest.raises(ConfigurationError, match="NEXUS_JWT_PRIVATE_KEY_FILE"):
            load_signing_keys(settings)

    def test_small_rsa_key(self, tmp_path: Path) -> None:
        key_file = tmp_path / "small.pem"
        key_file.write_bytes(_pem(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
        settings = make_settings(tmp_path, auth={"jwt_algorithm": "RS256", "jwt_private_key_file": key_file})
        with pytest.raises(ConfigurationError, match="2048"):
            load_signing_keys(settings)

    def test_wrong_curve(self, tmp_path: Path) -> None:
        key_file = tmp_path / "p384.pem"
        key_file.write_bytes(_pem(ec.generate_private_key(ec.SECP384R1())))
        settings = make_settings(tmp_path, auth={"jwt_algorithm": "ES256", "jwt_private_key_file": key_file})
        with pytest.raises(ConfigurationError, match="P-256"):
            load_signing_keys(settings)

    def test_mismatched_public_key(self, tmp_path: Path) -> None:
        private = tmp_path / "private.pem"
        private.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
        public = tmp_path / "public.pem"
        public.write_bytes(
            ec.generate_private_key(ec.SECP256R1())
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
        auth = {"jwt_algorithm": "ES256", "jwt_private_key_file": private, "jwt_public_key_file": public}
        with pytest.raises(ConfigurationError, match="does not match"):
            load_signing_keys(make_settings(tmp_path, auth=auth))

    def test_not_a_key(self, tmp_path: Path) -> None:
        key_file = tmp_path / "junk.pem"
        key_file.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
        settings = make_settings(tmp_path, auth={"jwt_algorithm": "RS256", "jwt_private_key_file": key_file})
        with pytest.raises(ConfigurationError):
            load_signing_keys(settings)
