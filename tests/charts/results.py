"""Realistic query results, as the executor (DuckDB types) and the sandbox (our types) return them."""

from __future__ import annotations

import random
from typing import Any

REGIONS = ["North", "South", "East", "West", "Central"]
CHANNELS = ["Web", "Store", "Phone"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def result(columns: list[tuple[str, str]], rows: list[list[Any]], **extra: Any) -> dict[str, Any]:
    """Return a result dict as ``result_dict`` makes it."""
    return {
        "columns": [{"name": name, "type": kind} for name, kind in columns],
        "rows": rows,
        "row_count": extra.get("row_count", len(rows)),
        "truncated": extra.get("truncated", False),
    }


def months(count: int = 24, start: int = 2023) -> list[str]:
    return [f"{start + i // 12}-{i % 12 + 1:02d}-01" for i in range(count)]


def single(value: Any = 1_234_567.5, name: str = "total_revenue", kind: str = "DOUBLE") -> dict[str, Any]:
    return result([(name, kind)], [[value]])


def monthly(name: str = "revenue") -> dict[str, Any]:
    return result(
        [("month", "DATE"), (name, "DOUBLE")], [[m, 1000.0 + 40 * i] for i, m in enumerate(months())]
    )


def monthly_by_region() -> dict[str, Any]:
    rows = [
        [m, r, 100.0 + 10 * i + 7 * j] for i, m in enumerate(months(12)) for j, r in enumerate(REGIONS[:3])
    ]
    return result([("month", "DATE"), ("region", "VARCHAR"), ("revenue", "DOUBLE")], rows)


def by_region(values: list[float] | None = None, measure: str = "revenue") -> dict[str, Any]:
    values = values or [520.0, 310.5, 980.25, 120.0, 445.0]
    return result(
        [("region", "VARCHAR"), (measure, "DOUBLE")], [list(p) for p in zip(REGIONS, values, strict=False)]
    )


def many_categories(count: int = 30, measure: str = "revenue") -> dict[str, Any]:
    rows = [[f"Customer {i:02d}", float(1000 - 25 * i)] for i in range(count)]
    return result([("customer", "VARCHAR"), (measure, "DOUBLE")], rows)


def two_categories(channels: list[str] = CHANNELS) -> dict[str, Any]:
    rows = [[r, c, 10 + 3 * i + 5 * j] for i, r in enumerate(REGIONS) for j, c in enumerate(channels)]
    return result([("region", "VARCHAR"), ("channel", "VARCHAR"), ("orders", "BIGINT")], rows)


def raw_values(count: int = 500, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    return result([("order_value", "DOUBLE")], [[round(rng.gauss(80, 20), 2)] for _ in range(count)])


def raw_by_region(count: int = 300, seed: int = 2) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = [[REGIONS[i % 3], round(rng.gauss(50 + 10 * (i % 3), 8), 2)] for i in range(count)]
    return result([("region", "VARCHAR"), ("order_value", "DOUBLE")], rows)


def price_quantity(count: int = 120, seed: int = 3) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        price = round(rng.uniform(1, 20), 2)
        rows.append([price, max(0, int(200 - 6 * price + rng.gauss(0, 10)))])
    return result([("price", "DOUBLE"), ("quantity", "BIGINT")], rows)


def weekday_hour(seed: int = 4) -> dict[str, Any]:
    rng = random.Random(seed)
    rows = [[d, h, rng.randint(0, 120)] for d in WEEKDAYS for h in range(24)]
    return result([("weekday", "VARCHAR"), ("hour", "INTEGER"), ("visits", "BIGINT")], rows)


def segments() -> dict[str, Any]:
    rows = [["Consumer", 5200.0], ["Corporate", 3100.0], ["Home office", 1700.0], ["Small business", 900.0]]
    return result([("segment", "VARCHAR"), ("revenue", "DOUBLE")], rows)
