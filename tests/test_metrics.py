"""The /metrics endpoint: who may read it, and that its labels are route templates, never raw paths."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from nexus.config import ObservabilitySettings
from nexus.observability.metrics import UNMATCHED_ROUTE
from nexus.users.models import Role
from tests.fixtures.app import Api, ApiFactory

METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"
USER_ROUTE = "/api/v1/users/{user_id}"
REQUESTS = "nexus_http_requests_total"
DURATION_COUNT = "nexus_http_request_duration_seconds_count"
DURATION_BUCKET = "nexus_http_request_duration_seconds_bucket"
TEMPLATE_SHAPE = re.compile(r"^(/[A-Za-z0-9_.-]+|/\{[a-z_]+\})+$")
RAW_ID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)


@pytest.fixture
def api(api_factory: ApiFactory) -> Api:
    """An app with a metrics token configured."""
    return api_factory(observability=ObservabilitySettings(_env_file=None, metrics_token=METRICS_TOKEN))  # type: ignore[call-arg]


def scrape(api: Api, token: str = METRICS_TOKEN) -> str:
    """Read /metrics with a token and return the exposition text."""
    response = api.client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def samples(exposition: str) -> list[Sample]:
    """Parse the exposition into its samples."""
    return [sample for family in text_string_to_metric_families(exposition) for sample in family.samples]


def value(found: Iterable[Sample], name: str, **labels: str) -> float:
    """Sum the samples of one name whose labels include ``labels``."""
    return sum(
        sample.value
        for sample in found
        if sample.name == name and all(sample.labels.get(key) == want for key, want in labels.items())
    )


def routes_of(found: Iterable[Sample]) -> set[str]:
    """Return every route label value in the samples."""
    return {sample.labels["route"] for sample in found if "route" in sample.labels}


class TestAccess:
    def test_no_token_is_401(self, api: Api) -> None:
        response = api.client.get("/metrics")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == "Bearer"
        assert "nexus_http_requests_total" not in response.text

    @pytest.mark.parametrize(
        "authorization",
        [
            "Bearer wrong-token",
            f"Bearer {METRICS_TOKEN}x",
            f"Bearer {METRICS_TOKEN[:-1]}",
            f"Bearer {METRICS_TOKEN.upper()}",
            f"Basic {METRICS_TOKEN}",
            METRICS_TOKEN,
            "Bearer ",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        ],
        ids=["wrong", "suffix", "prefix", "upper", "basic", "no-scheme", "empty", "forged-jwt"],
    )
    def test_wrong_token_is_401(self, api: Api, authorization: str) -> None:
        response = api.client.get("/metrics", headers={"Authorization": authorization})
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["status"] == 401
        assert "nexus_http_requests_total" not in response.text

    def test_any_token_is_401_when_no_metrics_token_is_configured(self, api_factory: ApiFactory) -> None:
        bare = api_factory()
        response = bare.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 401

    @pytest.mark.parametrize("role", [Role.ANALYST, Role.VIEWER])
    def test_non_admin_token_is_403(self, api: Api, role: Role) -> None:
        headers = api.headers_for(f"{role.value}-reader", role)
        response = api.client.get("/metrics", headers=headers)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "nexus_http_requests_total" not in response.text

    def test_analyst_fixture_token_is_403(self, api: Api, analyst_headers: dict[str, str]) -> None:
        assert api.client.get("/metrics", headers=analyst_headers).status_code == 403

    def test_metrics_token_is_200(self, api: Api) -> None:
        families = {family.name for family in text_string_to_metric_families(scrape(api))}
        assert {"nexus_http_requests", "nexus_http_request_duration_seconds"} <= families

    def test_admin_token_is_200(self, api: Api, admin_headers: dict[str, str]) -> None:
        token = admin_headers["Authorization"].removeprefix("Bearer ")
        families = {family.name for family in text_string_to_metric_families(scrape(api, token))}
        assert "nexus_http_requests" in families

    def test_disabled_admin_token_is_401(self, api: Api, admin_headers: dict[str, str]) -> None:
        other = api.headers_for("second-admin", Role.ADMIN)
        me = api.client.get("/api/v1/users/me", headers=other).json()
        disabled = api.client.patch(
            f"/api/v1/users/{me['id']}", json={"is_active": False}, headers=admin_headers
        )
        assert disabled.status_code == 200, disabled.text
        assert api.client.get("/metrics", headers=other).status_code == 401

    def test_metrics_token_is_not_an_api_token(self, api: Api) -> None:
        response = api.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 401


class TestRouteLabels:
    def test_user_id_is_templated(self, api: Api, admin_headers: dict[str, str]) -> None:
        before = samples(scrape(api))
        raw_ids = [str(uuid.uuid4()) for _ in range(3)]
        for raw in raw_ids:
            assert (
                api.client.patch(
                    f"/api/v1/users/{raw}", json={"role": "viewer"}, headers=admin_headers
                ).status_code
                == 404
            )
            assert api.client.delete(f"/api/v1/users/{raw}", headers=admin_headers).status_code == 404
            assert api.client.delete(f"/api/v1/users/{raw}").status_code == 401
        exposition = scrape(api)
        after = samples(exposition)

        for raw in raw_ids:
            assert raw not in exposition
            assert raw.replace("-", "") not in exposition
        assert USER_ROUTE in routes_of(after)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        assert delta(REQUESTS, method="PATCH", route=USER_ROUTE, status="404") == 3
        assert delta(REQUESTS, method="DELETE", route=USER_ROUTE, status="404") == 3
        assert delta(REQUESTS, method="DELETE", route=USER_ROUTE, status="401") == 3
        assert delta(DURATION_COUNT, method="PATCH", route=USER_ROUTE) == 3
        assert delta(DURATION_COUNT, method="DELETE", route=USER_ROUTE) == 6
        assert delta(DURATION_BUCKET, method="DELETE", route=USER_ROUTE, le="+Inf") == 6

    def test_every_route_label_is_a_template_or_unmatched(
        self, api: Api, admin_headers: dict[str, str]
    ) -> None:
        raw = str(uuid.uuid4())
        api.client.patch(f"/api/v1/users/{raw}", json={"role": "viewer"}, headers=admin_headers)
        api.client.get(f"/not/a/route/{raw}")
        templates = {getattr(route, "path", None) for route in api.app.routes}
        routes = routes_of(samples(scrape(api)))
        assert {USER_ROUTE, UNMATCHED_ROUTE} <= routes
        # The registry is process-wide: other tests' apps add their own templates, so check the shape.
        for route in routes:
            assert route in templates or route == UNMATCHED_ROUTE or TEMPLATE_SHAPE.match(route), route
            assert not RAW_ID.search(route), route

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/definitely/not/here"),
            ("GET", "/api/v1/users/{uuid}/extra"),
            ("GET", "/api/v2/users/{uuid}"),
            ("POST", "/{uuid}"),
            ("GET", "/api/v1/<script>alert(1)</script>"),
            ("GET", "/api/v1/users/me/../../../etc/passwd-{uuid}"),
        ],
        ids=["plain", "under-user", "v2", "root", "script", "traversal"],
    )
    def test_unmatched_paths_are_labelled_unmatched(self, api: Api, method: str, path: str) -> None:
        marker = uuid.uuid4().hex
        path = path.replace("{uuid}", marker)
        before = samples(scrape(api))
        response = api.client.request(method, path)
        assert response.status_code == 404
        exposition = scrape(api)
        after = samples(exposition)
        assert marker not in exposition
        assert "<script>" not in exposition
        for sample in after:
            for label in sample.labels.values():
                assert marker not in label
                assert "/not/here" not in label and "passwd" not in label
        grew = value(after, REQUESTS, method=method, route=UNMATCHED_ROUTE, status="404") - value(
            before, REQUESTS, method=method, route=UNMATCHED_ROUTE, status="404"
        )
        assert grew == 1
        assert value(after, DURATION_COUNT, method=method, route=UNMATCHED_ROUTE) >= 1

    def test_query_strings_never_reach_labels(self, api: Api) -> None:
        secret = f"querysecret{uuid.uuid4().hex}"
        api.client.get(f"/api/v1/users/me?token={secret}")
        api.client.get(f"/nowhere?password={secret}")
        exposition = scrape(api)
        assert secret not in exposition
        assert "/api/v1/users/me" in routes_of(samples(exposition))

    def test_wrong_method_uses_no_raw_path(self, api: Api) -> None:
        marker = uuid.uuid4().hex
        api.client.put(f"/api/v1/users/{marker}")
        exposition = scrape(api)
        assert marker not in exposition

    def test_oversized_body_is_labelled_by_template(self, api_factory: ApiFactory) -> None:
        api = api_factory(
            limits={"max_request_bytes": 1024},
            observability=ObservabilitySettings(_env_file=None, metrics_token=METRICS_TOKEN),  # type: ignore[call-arg]
        )
        raw = str(uuid.uuid4())
        before = samples(scrape(api))
        response = api.client.patch(
            f"/api/v1/users/{raw}", content=b"x" * 4096, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        exposition = scrape(api)
        assert raw not in exposition
        after = samples(exposition)
        grew = value(after, REQUESTS, method="PATCH", route=USER_ROUTE, status="413") - value(
            before, REQUESTS, method="PATCH", route=USER_ROUTE, status="413"
        )
        assert grew == 1


class TestOtherMetrics:
    def test_rate_limits_are_counted_by_template(self, api_factory: ApiFactory) -> None:
        api = api_factory(
            limits={"rate_limit_token": "1/minute"},
            observability=ObservabilitySettings(_env_file=None, metrics_token=METRICS_TOKEN),  # type: ignore[call-arg]
        )
        before = samples(scrape(api))
        for _ in range(3):
            api.client.post("/api/v1/auth/token", data={"username": "nobody", "password": "wrong password"})
        after = samples(scrape(api))
        name = "nexus_rate_limited_total"
        route = "/api/v1/auth/token"
        assert value(after, name, route=route) - value(before, name, route=route) == 2

    def test_failed_logins_are_counted(self, api: Api) -> None:
        before = samples(scrape(api))
        api.client.post("/api/v1/auth/token", data={"username": "nobody", "password": "wrong password"})
        after = samples(scrape(api))
        name = "nexus_auth_events_total"
        assert value(after, name, event="login_failed") - value(before, name, event="login_failed") == 1

    def test_in_progress_gauge_returns_to_rest(self, api: Api) -> None:
        for _ in range(3):
            api.client.get("/health/live")
        found = samples(scrape(api))
        # The scrape itself is the only request in flight while the exposition is generated.
        assert value(found, "nexus_http_requests_in_progress", method="GET") == 1
        assert value(found, "nexus_http_requests_in_progress", method="POST") == 0
