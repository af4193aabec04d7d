"""A real sandbox (warm workers, forked children, seccomp) shared by the tests of one process."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from nexus.config import SandboxSettings
from nexus.sandbox.service import Sandbox


def sales() -> pd.DataFrame:
    """Return a small sales table: text, integers, money, dates and a missing value."""
    rng = np.random.default_rng(7)
    days = pd.date_range("2023-01-01", periods=120, freq="D")
    return pd.DataFrame(
        {
            "order_id": np.arange(1, 121),
            "region": rng.choice(["North", "South", "East", "West"], size=120),
            "product": rng.choice(["Widget", "Gadget", "Gizmo"], size=120),
            "quantity": rng.integers(1, 20, size=120),
            "price": rng.normal(25, 6, size=120).round(2),
            "day": days,
            "discount": np.where(rng.random(120) < 0.1, np.nan, rng.random(120).round(2)),
        }
    )


def customers() -> pd.DataFrame:
    """Return a customers table keyed like ``sales().region``."""
    return pd.DataFrame(
        {
            "region": ["North", "South", "East", "West"],
            "manager": ["Ada", "Grace", "Edsger", "Barbara"],
            "target": [5000.0, 4200.0, 3900.0, 4700.0],
        }
    )


@pytest.fixture(scope="session")
def sandbox_settings() -> SandboxSettings:
    """Limits small enough that hostile programs stop quickly."""
    return SandboxSettings(
        sandbox_workers=1,
        sandbox_timeout_s=4,
        sandbox_cpu_s=2,
        sandbox_memory_mb=256,
        sandbox_max_output_kb=512,
        sandbox_max_stdout_chars=2_000,
        sandbox_max_result_rows=500,
    )


@pytest.fixture(scope="session")
def sandbox(sandbox_settings: SandboxSettings) -> Iterator[Sandbox]:
    """A sandbox with one warm worker, stopped at the end of the session."""
    box = Sandbox(sandbox_settings)
    box.pool.warm()
    yield box
    box.close()
