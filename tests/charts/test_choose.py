"""The chart kind chosen for a question and a result's shape, and the reason given."""

from __future__ import annotations

from typing import Any

import pytest

from nexus.charts import CHART_KINDS, ChartError, build_chart, choose_kind
from nexus.charts.words import hint_kind
from tests.charts import results as r
from tests.charts.results import result


def _names_and_amounts() -> dict[str, Any]:
    rows = [[f"Customer {i:03d}", i % 17, 100.0 + 13.5 * i] for i in range(200)]
    return result([("customer", "VARCHAR"), ("orders", "BIGINT"), ("revenue", "DOUBLE")], rows)


def _wide_single_row() -> dict[str, Any]:
    return result([("revenue", "DOUBLE"), ("cost", "DOUBLE"), ("profit", "DOUBLE")], [[900.0, 600.0, 300.0]])


def _monthly_wide() -> dict[str, Any]:
    rows = [[m, 100.0 + i, 60.0 + i] for i, m in enumerate(r.months(12))]
    return result([("month", "DATE"), ("revenue", "DOUBLE"), ("cost", "DOUBLE")], rows)


def _years() -> dict[str, Any]:
    return result([("year", "integer"), ("sales", "number")], [[2015 + i, 10.0 * i + 3] for i in range(10)])


def _year_months_text() -> dict[str, Any]:
    return result(
        [("month", "text"), ("orders", "integer")], [[m[:7], 5 * i] for i, m in enumerate(r.months(18))]
    )


def _month_names() -> dict[str, Any]:
    names = ["Mar", "Jan", "Feb", "Apr", "May", "Jun"]
    return result(
        [("month_name", "VARCHAR"), ("sales", "DOUBLE")], [[n, 10.0 + i] for i, n in enumerate(names)]
    )


def _ratings() -> dict[str, Any]:
    return result([("rating", "INTEGER"), ("count", "BIGINT")], [[i, 10 * i + 3] for i in range(1, 6)])


def _age_bands() -> dict[str, Any]:
    bands = ["25-34", "18-24", "65+", "35-44", "45-54", "55-64"]
    return result(
        [("age_band", "VARCHAR"), ("customers", "BIGINT")], [[b, 100 + i] for i, b in enumerate(bands)]
    )


def _long_labels() -> dict[str, Any]:
    names = [f"Deluxe stainless steel kitchen item {i}" for i in range(6)]
    return result(
        [("product_name", "VARCHAR"), ("revenue", "DOUBLE")],
        [[n, 50.0 * (i + 1)] for i, n in enumerate(names)],
    )


def _monthly_by_category() -> dict[str, Any]:
    rows = [
        [m, c, 20.0 + i + j]
        for i, m in enumerate(r.months(6))
        for j, c in enumerate(["Books", "Toys", "Food"])
    ]
    return result([("month", "DATE"), ("category", "VARCHAR"), ("revenue", "DOUBLE")], rows)


def _region_revenue_cost() -> dict[str, Any]:
    rows = [[region, 100.0 * (i + 1), 60.0 * (i + 1)] for i, region in enumerate(r.REGIONS)]
    return result([("region", "VARCHAR"), ("revenue", "DOUBLE"), ("cost", "DOUBLE")], rows)


def _product_store() -> dict[str, Any]:
    rows = [[f"P{i}", f"Store {j}", i * j + 1] for i in range(8) for j in range(8)]
    return result([("product", "VARCHAR"), ("store", "VARCHAR"), ("units", "BIGINT")], rows)


def _ids_and_values() -> dict[str, Any]:
    rows = [[i, 20.0 + (i * 37) % 50] for i in range(1, 301)]
    return result([("order_id", "BIGINT"), ("order_value", "DOUBLE")], rows)


def _timestamps() -> dict[str, Any]:
    rows = [[f"2024-05-01T{h:02d}:00:00", 12.5 * h] for h in range(24)]
    return result([("hour_start", "TIMESTAMP WITH TIME ZONE"), ("amount", "DECIMAL(18,2)")], rows)


def _store_codes() -> dict[str, Any]:
    return result([("store", "INTEGER"), ("sales", "DOUBLE")], [[100 + i, 500.0 - 20 * i] for i in range(8)])


def _average_price() -> dict[str, Any]:
    return result([("segment", "VARCHAR"), ("avg_price", "DOUBLE")], [["A", 10.0], ["B", 12.0], ["C", 9.5]])


CASES: list[tuple[str, str, dict[str, Any], dict[str, str] | None, str | None, str]] = [
    # (case, question, result, roles, hint, expected kind)
    ("1x1 money", "What is the total revenue?", r.single(), None, None, "kpi"),
    ("1x1 count", "how many orders", r.single(8_214, "orders", "integer"), None, None, "kpi"),
    (
        "one row with a label",
        "top region",
        result([("region", "text"), ("revenue", "number")], [["N", 9.0]]),
        None,
        None,
        "kpi",
    ),
    ("one row of three amounts", "revenue, cost and profit", _wide_single_row(), None, None, "bar"),
    ("monthly series", "revenue by month", r.monthly(), None, None, "line"),
    ("series per region", "monthly revenue trend per region", r.monthly_by_region(), None, None, "line"),
    ("two measures over time", "revenue and cost over time", _monthly_wide(), None, None, "line"),
    ("integer years", "sales per year", _years(), None, None, "line"),
    ("year-month text", "orders per month", _year_months_text(), None, None, "line"),
    ("month names", "sales by month", _month_names(), None, None, "line"),
    ("timestamps and decimals", "amount per hour", _timestamps(), None, None, "line"),
    ("few categories", "revenue by region", r.by_region(), None, None, "bar"),
    ("long labels", "revenue by product", _long_labels(), None, None, "horizontal_bar"),
    ("many categories", "revenue by customer", r.many_categories(), None, None, "horizontal_bar"),
    ("rating with count", "number of reviews per rating", _ratings(), None, None, "bar"),
    ("age bands", "customers by age band", _age_bands(), None, None, "bar"),
    ("store codes are categories", "sales per store", _store_codes(), {"store": "category"}, None, "bar"),
    (
        "compare two categories",
        "compare orders by region and channel",
        r.two_categories(),
        None,
        None,
        "grouped_bar",
    ),
    (
        "two categories, few groups",
        "orders by region and channel",
        r.two_categories(),
        None,
        None,
        "grouped_bar",
    ),
    (
        "share of two categories",
        "share of orders by channel in each region",
        r.two_categories(),
        None,
        None,
        "stacked_bar",
    ),
    (
        "composition over time",
        "composition of revenue by category each month",
        _monthly_by_category(),
        None,
        None,
        "stacked_bar",
    ),
    (
        "one category, two amounts",
        "revenue and cost by region",
        _region_revenue_cost(),
        None,
        None,
        "grouped_bar",
    ),
    ("weekday by hour", "visits by weekday and hour", r.weekday_hour(), None, None, "heatmap"),
    ("two wide categories", "units by product and store", _product_store(), None, None, "heatmap"),
    ("raw values", "order values", r.raw_values(), None, None, "histogram"),
    ("distribution with ids", "distribution of order value", _ids_and_values(), None, None, "histogram"),
    ("raw values per category", "order values by region", r.raw_by_region(), None, None, "box"),
    ("spread per category", "spread of order value by region", r.raw_by_region(), None, None, "box"),
    ("relationship", "relationship between price and quantity", r.price_quantity(), None, None, "scatter"),
    ("two raw measures", "", r.price_quantity(), None, None, "scatter"),
    ("many named points", "orders and revenue per customer", _names_and_amounts(), None, None, "scatter"),
    ("share of a few parts", "share of revenue by segment", r.segments(), None, None, "pie"),
    ("as a pie", "revenue by segment as a pie", r.segments(), None, None, "pie"),
    (
        "pie of too many parts",
        "share of revenue by customer",
        r.many_categories(),
        None,
        "pie",
        "horizontal_bar",
    ),
    (
        "pie of negative values",
        "profit by region as a pie",
        r.by_region([5.0, -3.0, 2.0], "profit"),
        None,
        None,
        "bar",
    ),
    ("pie of averages", "average price by segment as a pie", _average_price(), None, None, "bar"),
    ("hint scatter, one measure", "order values", r.raw_values(), None, "scatter", "histogram"),
    ("hint line without dates", "revenue by region", r.by_region(), None, "line", "bar"),
    ("hint heatmap", "orders by region and channel", r.two_categories(), None, "heatmap", "heatmap"),
    ("hint box", "order values by region", r.raw_by_region(), None, "box", "box"),
    ("hint bar over box", "order values by region", r.raw_by_region(), None, "bar", "bar"),
    ("hint horizontal", "revenue by region", r.by_region(), None, "horizontal bar", "horizontal_bar"),
    ("hint stacked of averages", "average price by segment and region", None, None, "stacked", "grouped_bar"),
    ("unknown hint", "revenue by region", r.by_region(), None, "radar", "bar"),
    ("hint kpi", "", r.single(), None, "kpi", "kpi"),
]


def _stacked_averages() -> dict[str, Any]:
    rows = [[s, region, 10.0 + i + j] for i, s in enumerate("ABC") for j, region in enumerate(r.REGIONS[:3])]
    return result([("segment", "VARCHAR"), ("region", "VARCHAR"), ("avg_price", "DOUBLE")], rows)


class TestChosenKind:
    @pytest.mark.parametrize(
        ("question", "data", "roles", "hint", "expected"),
        [
            pytest.param(q, d if d is not None else _stacked_averages(), ro, h, e, id=c)
            for c, q, d, ro, h, e in CASES
        ],
    )
    def test_kind(
        self,
        question: str,
        data: dict[str, Any],
        roles: dict[str, str] | None,
        hint: str | None,
        expected: str,
    ) -> None:
        kind, reason = choose_kind(data, question, roles, hint)
        assert kind == expected, reason
        assert reason.endswith(".") and reason[0].isupper()
        assert build_chart(data, question, roles, hint).kind == expected

    def test_the_table_is_large_enough(self) -> None:
        assert len(CASES) >= 30
        assert {kind for *_, kind in CASES} >= {
            "line", "bar", "grouped_bar", "stacked_bar", "horizontal_bar", "histogram",
            "box", "scatter", "heatmap", "pie", "kpi",
        }  # fmt: skip


class TestHints:
    @pytest.mark.parametrize(
        ("hint", "kind"),
        [
            ("Grouped Bar", "grouped_bar"),
            ("grouped_bar", "grouped_bar"),
            ("stacked-bar", "stacked_bar"),
            ("HEAT MAP", "heatmap"),
            ("heatmap", "heatmap"),
            ("bar chart", "bar"),
        ],
    )
    def test_hint_spellings(self, hint: str, kind: str) -> None:
        assert choose_kind(r.two_categories(), hint=hint)[0] == kind

    def test_every_kind_name_is_a_hint(self) -> None:
        assert all(hint_kind(kind) == kind for kind in CHART_KINDS)


class TestReasons:
    def test_a_hint_that_fits_is_followed(self) -> None:
        kind, reason = choose_kind(r.segments(), "revenue by segment", hint="donut")
        assert kind == "pie" and reason.startswith("As asked")

    def test_a_hint_that_does_not_fit_says_why(self) -> None:
        kind, reason = choose_kind(r.many_categories(), "revenue by customer", hint="pie")
        assert kind == "horizontal_bar"
        assert "pie" in reason and "2 to 6 parts" in reason and "30" in reason

    def test_a_line_without_dates_says_so(self) -> None:
        _, reason = choose_kind(r.by_region(), "", hint="line")
        assert "date or time column" in reason

    def test_an_unknown_hint_is_named(self) -> None:
        _, reason = choose_kind(r.by_region(), "", hint="radar")
        assert "The hint 'radar' names no kind of chart" in reason

    def test_scatter_axes_follow_against(self) -> None:
        chart = build_chart(r.price_quantity(), "scatter of quantity against price")
        assert chart.spec["encoding"]["x"]["title"] == "Price"
        assert chart.spec["encoding"]["y"]["title"] == "Quantity"

    def test_scatter_trend_line_when_asked(self) -> None:
        plain = build_chart(r.price_quantity(), "price and quantity")
        trend = build_chart(r.price_quantity(), "correlation between price and quantity")
        assert "layer" not in plain.spec
        assert trend.spec["layer"][1]["transform"][0]["regression"] == "quantity"


class TestNoChart:
    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(result([], []), id="no columns"),
            pytest.param(result([("region", "VARCHAR")], []), id="no rows"),
            pytest.param(
                result([("region", "VARCHAR"), ("city", "VARCHAR")], [["N", "a"], ["S", "b"]]), id="text only"
            ),
            pytest.param(result([("tags", "VARCHAR[]")], [[["a"]], [["b"]]]), id="nested only"),
            pytest.param(result([("total", "DOUBLE")], [[None]]), id="one empty value"),
        ],
    )
    def test_no_chart_fits(self, data: dict[str, Any]) -> None:
        with pytest.raises(ChartError) as caught:
            build_chart(data, "plot it")
        assert caught.value.status == 422 and caught.value.type_slug == "chart-not-possible"
