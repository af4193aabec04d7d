"""Rate limits: strict on sign-in, general per user or address, shared through Redis between replicas."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from nexus.users.models import Role
from tests.fixtures.app import PASSWORD, ApiFactory

REDIS_URL = os.environ.get("NEXUS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "/api/v1/auth/token"
ME = "/api/v1/users/me"


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if os.environ.get("NEXUS_REQUIRE_REDIS"):
            pytest.fail(f"Redis unreachable at {REDIS_URL}: {error}")
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")


class TestTokenEndpointLimit:
    def test_sign_in_attempts_are_capped_per_address(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_token": "3/minute"})
        api.add_user("ada")
        statuses = [
            api.client.post(TOKEN, data={"username": "ada", "password": "wrong guess!"}).status_code
            for _ in range(3)
        ]
        assert statuses == [401, 401, 401]
        refused = api.client.post(TOKEN, data={"username": "ada", "password": PASSWORD})
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 61
        assert refused.json()["status"] == 429

    def test_default_is_ten_per_minute(self, api_factory: ApiFactory) -> None:
        api = api_factory()
        statuses = [
            api.client.post(TOKEN, data={"username": "x", "password": "y"}).status_code for _ in range(11)
        ]
        assert statuses == [401] * 10 + [429]


class TestGeneralLimit:
    def test_counts_per_user(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_default": "4/minute", "rate_limit_token": "100/minute"})
        alice = api.headers_for("alice")
        bob = api.headers_for("bob")
        alice_statuses = [api.client.get(ME, headers=alice).status_code for _ in range(5)]
        assert alice_statuses == [200, 200, 200, 200, 429]
        assert api.client.get(ME, headers=bob).status_code == 200

    def test_the_limit_spans_routes(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_default": "3/minute", "rate_limit_token": "100/minute"})
        admin = api.headers_for("root", Role.ADMIN)
        assert api.client.get(ME, headers=admin).status_code == 200
        assert api.client.get("/api/v1/users", headers=admin).status_code == 200
        assert api.client.get(ME, headers=admin).status_code == 200
        assert api.client.get("/api/v1/users", headers=admin).status_code == 429

    def test_anonymous_requests_count_per_address(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_default": "2/minute"})
        statuses = [api.client.get(ME).status_code for _ in range(3)]
        assert statuses == [401, 401, 429]

    def test_forged_subjects_do_not_escape_the_address_limit(self, api_factory: ApiFactory) -> None:
        """Unverified tokens are not users: random ones all count against the client's address."""
        api = api_factory(limits={"rate_limit_default": "2/minute"})
        statuses = [
            api.client.get(ME, headers={"Authorization": f"Bearer {uuid.uuid4().hex}.x.y"}).status_code
            for _ in range(3)
        ]
        assert statuses == [401, 401, 429]

    def test_health_is_exempt(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_default": "1/minute"})
        assert all(api.client.get("/health/live").status_code == 200 for _ in range(5))

    def test_disabled(self, api_factory: ApiFactory) -> None:
        api = api_factory(limits={"rate_limit_default": "1/minute", "rate_limit_enabled": False})
        assert [api.client.get(ME).status_code for _ in range(3)] == [401, 401, 401]


@pytest.mark.redis
class TestSharedRedisStorage:
    def test_two_instances_share_one_limit(self, api_factory: ApiFactory, sqlite_url: str) -> None:
        _redis_or_skip()
        limits = {
            "rate_limit_storage": REDIS_URL,
            "rate_limit_default": "5/minute",
            "rate_limit_token": "100/minute",
            "rate_limit_key_prefix": f"test-{uuid.uuid4().hex}",
        }
        first = api_factory(sqlite_url, limits=limits)
        second = api_factory(sqlite_url, limits=limits)
        assert first.app is not second.app
        headers = first.headers_for("shared")  # the same user and key on both: one database, one secret

        statuses = [first.client.get(ME, headers=headers).status_code for _ in range(3)]
        statuses += [second.client.get(ME, headers=headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 200, 200, 200, 429]

    def test_token_limit_is_shared_too(self, api_factory: ApiFactory, sqlite_url: str) -> None:
        _redis_or_skip()
        limits = {"rate_limit_storage": REDIS_URL, "rate_limit_token": "2/minute"}
        limits["rate_limit_key_prefix"] = f"test-{uuid.uuid4().hex}"
        first = api_factory(sqlite_url, limits=limits)
        second = api_factory(sqlite_url, limits=limits)
        attempt = {"username": "x", "password": "y"}
        assert first.client.post(TOKEN, data=attempt).status_code == 401
        assert second.client.post(TOKEN, data=attempt).status_code == 401
        assert first.client.post(TOKEN, data=attempt).status_code == 429

    def test_counters_live_in_redis_under_the_prefix(self, api_factory: ApiFactory) -> None:
        _redis_or_skip()
        prefix = f"test-{uuid.uuid4().hex}"
        api = api_factory(limits={"rate_limit_storage": REDIS_URL, "rate_limit_key_prefix": prefix})
        api.client.get(ME)
        keys = redis.Redis.from_url(REDIS_URL).keys(f"*{prefix}*")
        assert keys, "no counter was written to Redis"
