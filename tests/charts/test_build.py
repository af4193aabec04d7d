"""What a built chart holds: capped categories, bounded rows, formats, titles, order, series."""

from __future__ import annotations

from typing import Any

import pytest

from nexus.charts import build_chart, render
from nexus.charts.table import base_type, humanize, read_table
from tests.charts import results as r
from tests.charts.results import result


def _values(spec: dict[str, Any]) -> list[dict[str, Any]]:
    values: list[dict[str, Any]] = spec["data"]["values"]
    return values


def _by_title(spec: dict[str, Any], channel: str) -> str:
    return str(spec["encoding"][channel]["field"])


class TestCategoryCapping:
    def test_top_n_and_other_preserve_the_sum(self) -> None:
        data = r.many_categories(30)
        chart = build_chart(data, "revenue by customer", max_categories=12)
        rows = _values(chart.spec)
        key = _by_title(chart.spec, "x")
        assert len(rows) == 13
        assert sum(row[key] for row in rows) == pytest.approx(sum(row[1] for row in data["rows"]))
        assert "18 smaller customer values are grouped as Other." in chart.notes
        assert chart.spec["encoding"]["y"]["sort"][-1] == "Other"

    def test_kept_categories_are_the_largest(self) -> None:
        chart = build_chart(r.many_categories(30), max_categories=5)
        assert chart.spec["encoding"]["y"]["sort"] == [f"Customer {i:02d}" for i in range(5)] + ["Other"]

    def test_averages_are_not_added_into_other(self) -> None:
        rows = [[f"Store {i:02d}", 50.0 - i] for i in range(20)]
        data = result([("store", "VARCHAR"), ("avg_basket", "DOUBLE")], rows)
        chart = build_chart(data, "average basket by store", max_categories=6)
        names = [row[_by_title(chart.spec, "y")] for row in _values(chart.spec)]
        assert len(names) == 6 and "Other" not in names
        assert any("left out" in note for note in chart.notes)

    def test_an_existing_other_category_is_merged(self) -> None:
        rows = [[name, 10.0] for name in ["Other", *[f"C{i}" for i in range(5)]]]
        data = result([("category", "VARCHAR"), ("sales", "DOUBLE")], rows)
        chart = build_chart(data, max_categories=3)
        values = _values(chart.spec)
        assert sum(row["sales"] for row in values) == pytest.approx(60.0)
        assert [row["category"] for row in values].count("Other") == 1

    def test_series_of_a_line_are_capped(self) -> None:
        rows = [[m, f"Product {p:02d}", float(p + 1)] for m in r.months(6) for p in range(25)]
        data = result([("month", "DATE"), ("product", "VARCHAR"), ("units", "BIGINT")], rows)
        chart = build_chart(data, "units by month and product")
        assert chart.kind == "line"
        series = {row["product"] for row in _values(chart.spec)}
        assert len(series) == 11 and "Other" in series
        assert sum(row["units"] for row in _values(chart.spec)) == sum(row[2] for row in rows)


class TestBounds:
    def test_rows_are_bounded_with_a_note(self) -> None:
        chart = build_chart(r.raw_values(6_000), "distribution of order values", max_points=5_000)
        assert len(_values(chart.spec)) == 5_000
        assert "Only the first 5,000 of 6,000 points are drawn." in chart.notes

    def test_a_truncated_result_is_noted(self) -> None:
        data = r.raw_values(100)
        data.update(row_count=250_000, truncated=True)
        chart = build_chart(data)
        assert any("250,000" in note and "100" in note for note in chart.notes)

    def test_long_labels_are_shortened(self) -> None:
        data = result([("note", "VARCHAR"), ("n", "BIGINT")], [["x" * 500, 1], ["y" * 500, 2]])
        chart = build_chart(data, hint="bar")
        assert all(len(row["note"]) <= 80 for row in _values(chart.spec))


class TestFormats:
    def test_money_axis_and_tooltip(self) -> None:
        chart = build_chart(r.by_region(), "revenue by region")
        assert chart.spec["encoding"]["y"]["axis"]["format"] == "$,.2~f"
        assert {"field": "revenue", "format": "$,.2f"}.items() <= chart.spec["encoding"]["tooltip"][1].items()

    def test_large_money_is_shortened(self) -> None:
        chart = build_chart(r.by_region([2.5e6, 1.2e7, 3e5]), "sales by region")
        assert chart.spec["encoding"]["y"]["axis"]["format"] == "$,.3~s"

    def test_money_from_a_role(self) -> None:
        data = r.by_region(measure="takings")
        plain = build_chart(data).spec["encoding"]["y"]
        money = build_chart(data, roles={"takings": "amount"}).spec["encoding"]["y"]
        assert "axis" not in plain and money["axis"]["format"].startswith("$")

    def test_counts_are_not_money(self) -> None:
        chart = build_chart(r.by_region(measure="sales_count"))
        assert "axis" not in chart.spec["encoding"]["y"]

    def test_fractions_are_percentages(self) -> None:
        chart = build_chart(r.by_region([0.12, 0.4, 0.33, 0.15], "conversion_rate"))
        assert chart.spec["encoding"]["y"]["axis"]["format"] == ".1%"

    def test_percent_points_are_not_fractions(self) -> None:
        chart = build_chart(r.by_region([12.0, 40.0, 33.0], "pct_returned"))
        assert "axis" not in chart.spec["encoding"]["y"]

    def test_kpi_formats(self) -> None:
        money = build_chart(r.single(1234.5, "revenue"))
        count = build_chart(r.single(8214, "orders", "BIGINT"))
        text = build_chart(r.single("North", "best_region", "VARCHAR"))
        assert money.spec["encoding"]["text"]["format"] == "$,.2f"
        assert count.spec["encoding"]["text"]["format"] == ",d"
        assert text.kind == "kpi" and text.spec["encoding"]["text"]["type"] == "nominal"
        assert render(text.spec, "svg").count(b"North") >= 1


class TestWords:
    @pytest.mark.parametrize(
        ("question", "title"),
        [
            ("Show me revenue by region as a bar chart?", "Revenue by region"),
            ("plot a histogram of order values", "Order values"),
            ("What is the total revenue?", "Total revenue"),
            ("can you chart monthly sales as a line", "Monthly sales"),
            ("scatter of price against quantity with a trend line", "Price against quantity"),
        ],
    )
    def test_title_from_the_question(self, question: str, title: str) -> None:
        data = r.price_quantity() if "scatter" in question else r.by_region()
        assert build_chart(data, question).spec["title"] == title

    def test_title_from_the_columns(self) -> None:
        assert build_chart(r.by_region()).spec["title"] == "Revenue by region"
        assert build_chart(r.raw_values()).spec["title"] == "Distribution of order value"
        assert build_chart(r.price_quantity()).spec["title"] == "Quantity against price"

    def test_labels_name_the_axes(self) -> None:
        chart = build_chart(r.by_region(), labels={"region": "Sales region", "revenue": "Net revenue (USD)"})
        assert chart.spec["encoding"]["x"]["title"] == "Sales region"
        assert chart.spec["encoding"]["y"]["title"] == "Net revenue (USD)"
        assert chart.spec["title"] == "Net revenue (USD) by sales region"

    @pytest.mark.parametrize(
        ("name", "words"),
        [
            ("total_revenue", "Total revenue"),
            ("totalRevenue", "Total revenue"),
            ("avg_price", "Average price"),
        ],
    )
    def test_names_as_words(self, name: str, words: str) -> None:
        assert humanize(name) == words


class TestOrder:
    def test_bars_are_sorted_by_value(self) -> None:
        chart = build_chart(r.by_region(), "revenue by region")
        assert chart.spec["encoding"]["x"]["sort"] == ["East", "North", "Central", "South", "West"]

    def test_bars_over_time_keep_time_order(self) -> None:
        rows = [[m, float(100 - i)] for i, m in enumerate(r.months(6))]
        chart = build_chart(result([("month", "DATE"), ("revenue", "DOUBLE")], rows), hint="bar")
        assert chart.kind == "bar"
        assert chart.spec["encoding"]["x"]["sort"] == [m[:7] for m in r.months(6)]

    def test_ordinal_axes_keep_their_order(self) -> None:
        rows = [["25-34", 50], ["18-24", 90], ["65+", 10], ["35-44", 40]]
        chart = build_chart(result([("age_band", "VARCHAR"), ("customers", "BIGINT")], rows))
        assert chart.spec["encoding"]["x"]["sort"] == ["18-24", "25-34", "35-44", "65+"]

    def test_month_names_sort_as_a_calendar(self) -> None:
        rows = [["Mar", 1.0], ["Jan", 3.0], ["Feb", 2.0]]
        chart = build_chart(result([("month", "VARCHAR"), ("sales", "DOUBLE")], rows), hint="bar")
        assert chart.spec["encoding"]["x"]["sort"] == ["Jan", "Feb", "Mar"]


class TestSeriesAndShapes:
    def test_line_with_several_series(self) -> None:
        chart = build_chart(r.monthly_by_region(), "revenue by month and region")
        assert chart.spec["encoding"]["x"]["type"] == "temporal"
        assert chart.spec["encoding"]["color"]["field"] == "region"
        assert len({row["region"] for row in _values(chart.spec)}) == 3
        assert all(row["month"].endswith("T00:00:00") for row in _values(chart.spec))

    def test_wide_measures_become_series(self) -> None:
        rows = [[m, 100.0 + i, 60.0 + i] for i, m in enumerate(r.months(12))]
        chart = build_chart(result([("month", "DATE"), ("revenue", "DOUBLE"), ("cost", "DOUBLE")], rows))
        color = chart.spec["encoding"]["color"]
        assert color["title"] == "Measure" and color["sort"] == ["Revenue", "Cost"]
        assert len(_values(chart.spec)) == 24
        assert chart.spec["title"] == "Revenue and cost by month"

    def test_repeated_dates_are_added_up(self) -> None:
        rows = [[m, 1.0] for m in r.months(3) for _ in range(4)]
        chart = build_chart(result([("day", "DATE"), ("amount", "DOUBLE")], rows))
        assert [row["amount"] for row in _values(chart.spec)] == [4, 4, 4]
        assert "Amount is added up for each day." in chart.notes

    def test_grouped_and_stacked(self) -> None:
        grouped = build_chart(r.two_categories(), "compare orders by region and channel")
        stacked = build_chart(r.two_categories(), "share of orders by channel")
        assert grouped.spec["encoding"]["xOffset"]["field"] == "channel"
        assert stacked.spec["encoding"]["y"]["stack"] == "normalize"
        assert "xOffset" not in stacked.spec["encoding"]

    def test_horizontal_bars_grow_with_their_count(self) -> None:
        chart = build_chart(r.many_categories(), "revenue by customer")
        assert chart.spec["height"] == {"step": 24}
        assert chart.spec["encoding"]["y"]["type"] == "nominal"

    def test_pie_has_shares(self) -> None:
        chart = build_chart(r.segments(), "share of revenue by segment", hint="donut")
        assert chart.spec["mark"]["innerRadius"] > 0
        assert chart.spec["encoding"]["color"]["sort"][0] == "Consumer"
        assert any(item["title"] == "Share" for item in chart.spec["encoding"]["tooltip"])

    def test_awkward_column_names_get_safe_keys(self) -> None:
        data = result([("sales.region", "VARCHAR"), ("rev[2024]", "DOUBLE")], [["a", 1.0], ["b", 2.0]])
        chart = build_chart(data)
        assert set(_values(chart.spec)[0]) == {"sales_region", "rev_2024"}
        assert chart.spec["encoding"]["x"]["title"] == "Sales.region"
        render(chart.spec, "png")

    def test_measures_left_out_are_noted(self) -> None:
        rows = [[region, 100.0 * (i + 1), 3 * i] for i, region in enumerate(r.REGIONS)]
        data = result([("region", "VARCHAR"), ("revenue", "DOUBLE"), ("order_count", "BIGINT")], rows)
        chart = build_chart(data, "revenue by region")
        assert chart.kind == "bar" and "Order count is not drawn." in chart.notes

    @pytest.mark.parametrize("name", ["a\\b", "line\r\nbreak", "\r", "   ", 'quote"d', "tab\there"])
    def test_awkward_titles_still_draw(self, name: str) -> None:
        data = result([(name, "VARCHAR"), ("value", "DOUBLE")], [["a", 1.0], ["b", 2.0]])
        chart = build_chart(data)
        title = chart.spec["encoding"]["x"]["title"]
        assert "\\" not in title and "\n" not in title and "\r" not in title and title.strip()
        assert render(chart.spec, "svg").startswith(b"<svg")

    def test_identifiers_are_not_measures(self) -> None:
        table = read_table(result([("customer_id", "BIGINT"), ("spend", "DOUBLE")], [[1, 2.0], [2, 3.0]]))
        assert [f.kind for f in table.fields] == ["nominal", "quantitative"]


class TestTypes:
    @pytest.mark.parametrize(
        ("declared", "ours"),
        [
            ("BIGINT", "integer"),
            ("HUGEINT", "integer"),
            ("DECIMAL(18,2)", "number"),
            ("DOUBLE", "number"),
            ("DATE", "date"),
            ("TIMESTAMP WITH TIME ZONE", "datetime"),
            ("TIMESTAMP_NS", "datetime"),
            ("TIME", "time"),
            ("INTERVAL", "duration"),
            ("VARCHAR", "text"),
            ("UUID", "text"),
            ("BOOLEAN", "boolean"),
            ("INTEGER[]", "nested"),
            ("STRUCT(a INTEGER)", "nested"),
            ("number", "number"),
            ("datetime", "datetime"),
        ],
    )
    def test_both_vocabularies(self, declared: str, ours: str) -> None:
        assert base_type(declared) == ours

    def test_iso_text_is_a_date(self) -> None:
        table = read_table(
            result([("d", "text"), ("v", "number")], [["2024-01-05", 1.0], ["2024-02-05", 2.0]])
        )
        assert table.fields[0].kind == "temporal"

    def test_a_scalar_payload(self) -> None:
        chart = build_chart({"kind": "scalar", "value": 42})
        assert chart.kind == "kpi"
