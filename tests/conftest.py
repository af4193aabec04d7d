"""Shared fixtures: see tests/fixtures/."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures.database", "tests.fixtures.app"]


def pytest_report_header(config: pytest.Config) -> str:
    """Say up front whether the PostgreSQL half of the suite will run."""
    from tests.fixtures.database import postgres_unreachable_reason

    reason = postgres_unreachable_reason()
    return (
        f"postgresql: SKIPPED ({reason})"
        if reason
        else "postgresql: available, storage and auth tests run on it"
    )
