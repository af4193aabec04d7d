"""Every route needs a valid token, except a short public list; new routes are covered automatically."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.routing import Route

import nexus.api
from tests.fixtures.app import Api, ApiFactory

PUBLIC = {
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
}


def _endpoints(api: Api) -> list[tuple[str, str]]:
    found = []
    for route in api.app.routes:
        assert isinstance(route, APIRoute | Route), (
            f"unexpected route type {type(route).__name__}: add it here"
        )
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


class TestEveryRouteNeedsAToken:
    def test_routes_without_token(self, api: Api) -> None:
        endpoints = _endpoints(api)
        assert len(endpoints) >= 15
        answered_without_token = []
        for method, path in endpoints:
            if (method, path) in PUBLIC:
                continue
            response = api.client.request(method, _concrete(path))
            if response.status_code != 401:
                answered_without_token.append(f"{method} {path} -> {response.status_code}")
        assert not answered_without_token, "routes that answer without a token:\n" + "\n".join(
            answered_without_token
        )

    @pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer " + "e30." * 3])
    def test_routes_with_a_bad_token(self, api: Api, header: str) -> None:
        for method, path in _endpoints(api):
            if (method, path) in PUBLIC:
                continue
            assert (
                api.client.request(method, _concrete(path), headers={"Authorization": header}).status_code
                == 401
            )

    def test_public_list_is_not_stale(self, api: Api) -> None:
        """A public entry that no longer exists would hide nothing, but must not linger."""
        assert PUBLIC <= set(_endpoints(api))

    def test_a_route_added_later_is_protected(
        self, api_factory: ApiFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A new domain router that forgets authentication is still behind it."""
        careless = APIRouter(prefix="/careless")

        @careless.get("/open")
        def open_door() -> dict[str, str]:
            return {"secret": "data"}

        original = nexus.api.protected_routers
        monkeypatch.setattr(nexus.api, "protected_routers", lambda: [*original(), careless])
        api = api_factory()
        assert api.client.get("/api/v1/careless/open").status_code == 401
        headers = api.headers_for("someone")
        assert api.client.get("/api/v1/careless/open", headers=headers).json() == {"secret": "data"}
