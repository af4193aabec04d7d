"""Health probes: live says the process is up; ready checks the database and its migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nexus.main import create_app
from nexus.migrate import upgrade
from nexus.runtime import build_runtime
from tests.fixtures.app import Api, make_settings

pytestmark = pytest.mark.usefixtures("database_url")


class TestLive:
    def test_live(self, api: Api) -> None:
        response = api.client.get("/health/live")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


class TestReady:
    def test_ready_when_migrated(self, api: Api) -> None:
        response = api.client.get("/health/ready")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "current"}}

    def test_not_ready_before_migrations(self, tmp_path: Path, database_url: str) -> None:
        runtime = build_runtime(make_settings(tmp_path, database_url))
        with TestClient(create_app(runtime=runtime)) as client:
            response = client.get("/health/ready")
            assert response.status_code == 503
            assert response.json()["checks"] == {"database": "ok", "migrations": "pending"}
            upgrade(runtime.engine)
            assert client.get("/health/ready").status_code == 200

    def test_not_ready_when_the_database_is_gone(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
        with TestClient(create_app(settings)) as client:
            response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": "unavailable", "migrations": "unknown"},
        }
        assert "nobody" not in response.text
