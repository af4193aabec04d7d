"""Any small result either gets a schema-valid chart that draws, or a ChartError: nothing else."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus.charts import CHART_KINDS, ChartError, build_chart, render, validate_spec

TYPES = [
    "text",
    "number",
    "integer",
    "date",
    "datetime",
    "boolean",
    "VARCHAR",
    "DOUBLE",
    "BIGINT",
    "DATE",
    "TIMESTAMP",
]
NAMES = [
    "region",
    "revenue",
    "month",
    "year",
    "share",
    "order_id",
    "price",
    "quantity",
    "weekday",
    "a.b",
    "x y",
    "",
]
QUESTIONS = [
    "",
    "plot revenue by region",
    "share of sales as a pie",
    "distribution of price",
    "scatter of price against quantity with a trend line",
    "compare revenue by region and month",
    "average price by weekday",
    "stacked composition",
    "heatmap",
]
HINTS = [
    None,
    "pie",
    "donut",
    "scatter",
    "histogram",
    "line",
    "bar",
    "heatmap",
    "box",
    "kpi",
    "stacked",
    "radar",
]


def _values(kind: str) -> st.SearchStrategy[Any]:
    numbers = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False) | st.integers(-(10**6), 10**6)
    dates = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31)).map(dt.date.isoformat)
    moments = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2030, 12, 31)).map(dt.datetime.isoformat)
    texts = st.sampled_from(["North", "South", "Jan", "Feb", "18-24", "Q1", "", "é", "x" * 120]) | st.text(
        max_size=8
    )
    by_kind = {
        "text": texts,
        "VARCHAR": texts,
        "number": numbers,
        "DOUBLE": numbers | st.just(float("nan")),
        "integer": st.integers(-5, 3000),
        "BIGINT": st.integers(0, 40),
        "date": dates,
        "DATE": dates,
        "datetime": moments,
        "TIMESTAMP": moments,
        "boolean": st.booleans(),
    }
    return st.none() | by_kind[kind] if kind != "BIGINT" else by_kind[kind]


@st.composite
def results(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(0, 4))
    kinds = [draw(st.sampled_from(TYPES)) for _ in range(count)]
    names = [draw(st.sampled_from(NAMES)) or f"c{i}" for i in range(count)]
    rows = draw(st.lists(st.tuples(*[_values(kind) for kind in kinds]).map(list), max_size=30))
    return {
        "columns": [{"name": n, "type": k} for n, k in zip(names, kinds, strict=True)],
        "rows": rows,
        "row_count": len(rows),
        "truncated": draw(st.booleans()),
    }


class TestAnyResult:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        data=results(),
        question=st.sampled_from(QUESTIONS),
        hint=st.sampled_from(HINTS),
        max_points=st.integers(1, 40),
        max_categories=st.integers(1, 15),
    )
    def test_valid_chart_or_chart_error(
        self, data: dict[str, Any], question: str, hint: str | None, max_points: int, max_categories: int
    ) -> None:
        try:
            chart = build_chart(
                data, question, hint=hint, max_points=max_points, max_categories=max_categories
            )
        except ChartError:
            return
        assert chart.kind in CHART_KINDS
        assert chart.reason
        validate_spec(chart.spec)
        json.dumps(chart.spec, allow_nan=False)
        assert len(chart.spec["data"]["values"]) <= max_points
        assert render(chart.spec, "svg").startswith(b"<svg")
