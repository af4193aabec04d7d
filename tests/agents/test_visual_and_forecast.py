"""The visualiser and time-series agents through HTTP, and the chart routes.

Real datasets, the real graph, charts validated against the Vega-Lite schema and rendered by
vl-convert, forecasts fitted by statsmodels.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from nexus.charts import validate_spec
from nexus.config import ChartSettings
from nexus.users.models import Role
from tests.fixtures.app import Api, ApiFactory

DATASETS = "/api/v1/datasets"
QUERY = "/api/v1/query"
CHARTS = "/api/v1/charts"
PNG = b"\x89PNG\r\n\x1a\n"


def _sales() -> bytes:
    """Four years of orders, three a month per region: a trend and a yearly season."""
    rng = random.Random(1)
    lines = ["order_date,region,amount,quantity"]
    for month in range(48):
        year, number = 2021 + month // 12, month % 12 + 1
        for region in ("North", "South", "East"):
            for day in (1, 10, 19):
                amount = 100 + 2 * month + 30 * math.sin(2 * math.pi * number / 12) + rng.gauss(0, 5)
                lines.append(f"{year}-{number:02d}-{day:02d},{region},{amount:.2f},{rng.randint(1, 9)}")
    return ("\n".join(lines) + "\n").encode()


def _upload(api: Api, headers: dict[str, str], content: bytes, name: str = "sales.csv") -> str:
    response = api.client.post(DATASETS, files={"file": (name, content, "text/csv")}, headers=headers)
    assert response.status_code == 201, response.text
    dataset_id: str = response.json()["id"]
    return dataset_id


def _ask(api: Api, headers: dict[str, str], question: str, dataset_id: str) -> dict[str, Any]:
    response = api.client.post(
        QUERY, json={"question": question, "dataset_ids": [dataset_id]}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def sales(api: Api) -> tuple[dict[str, str], str]:
    headers = api.headers_for("ana")
    return headers, _upload(api, headers, _sales())


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("plot the total amount by region", "bar"),
        ("plot total amount by month", "line"),
        ("show me a histogram of the amount", "histogram"),
        ("plot the total amount by region as a pie", "pie"),
        ("scatter of amount against quantity", "scatter"),
    ],
)
def test_picture_questions_get_a_valid_chart_that_renders(
    api: Api, sales: tuple[dict[str, str], str], question: str, kind: str
) -> None:
    headers, dataset_id = sales
    body = _ask(api, headers, question, dataset_id)
    assert body["route"] == "visualiser" and body["agent"] == "visualiser" and body["status"] == "answered"
    assert body["chart"]["kind"] == kind, body["chart"]
    validate_spec(body["chart"]["spec"])
    assert body["review"]["passed"] is True
    png = api.client.get(f"{CHARTS}/{body['run_id']}.png", headers=headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(PNG) and len(png.content) > 2_000
    svg = api.client.get(f"{CHARTS}/{body['run_id']}.svg", headers=headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content


def test_chart_images_are_their_owners_alone(api: Api, sales: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = sales
    drawn = _ask(api, headers, "plot the total amount by region", dataset_id)
    plain = _ask(api, headers, "total amount by region", dataset_id)
    assert plain["chart"] is None
    other = api.headers_for("eve")
    assert api.client.get(f"{CHARTS}/{drawn['run_id']}.png", headers=other).status_code == 404
    assert api.client.get(f"{CHARTS}/{plain['run_id']}.png", headers=headers).status_code == 404
    assert api.client.get(f"{CHARTS}/{drawn['run_id']}.png").status_code == 401


def test_a_forecast_beats_naive_and_carries_intervals_a_table_and_a_chart(
    api: Api, sales: tuple[dict[str, str], str]
) -> None:
    headers, dataset_id = sales
    body = _ask(api, headers, "forecast the amount for the next 6 months", dataset_id)
    assert body["route"] == "timeseries" and body["agent"] == "timeseries" and body["status"] == "answered"
    forecast = body["forecast"]
    assert forecast["grain"] == "month" and forecast["season"] == 12 and len(forecast["points"]) == 6
    assert forecast["beats_naive"] is True and forecast["backtest_mase"] < forecast["naive_mase"]
    assert [p["date"] for p in forecast["points"]][:2] == ["2025-01-01", "2025-02-01"]
    for point in forecast["points"]:
        assert point["lo95"] <= point["lo80"] <= point["forecast"] <= point["hi80"] <= point["hi95"]
    assert body["result"]["row_count"] == 48 + 6
    assert "chosen by backtest" in body["answer"] and f"{forecast['naive_mase']:.2f}" in body["answer"]
    assert body["review"]["passed"] is True
    validate_spec(body["chart"]["spec"])
    assert "DATE_TRUNC" in body["sql"]
    png = api.client.get(f"{CHARTS}/{body['run_id']}.png", headers=headers)
    assert png.status_code == 200 and png.content.startswith(PNG)


def test_seasonality_questions_report_strengths(api: Api, sales: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = sales
    body = _ask(api, headers, "is there seasonality in the monthly amount?", dataset_id)
    assert body["agent"] == "timeseries" and body["status"] == "answered"
    assert body["forecast"]["seasonal_strength"] > 0.6
    assert "seasonal strength" in body["answer"]


def test_forecasts_that_cannot_be_made_say_why(api_factory: ApiFactory) -> None:
    api = api_factory(charts=ChartSettings(forecast_max_horizon=24))
    headers = api.headers_for("ana")
    sales = _upload(api, headers, _sales())
    too_far = _ask(api, headers, "forecast the amount for the next 36 months", sales)
    assert too_far["status"] == "unresolved" and "NEXUS_FORECAST_MAX_HORIZON" in too_far["answer"]
    undated = _upload(api, headers, b"region,amount\nNorth,1\nSouth,2\n", "undated.csv")
    body = _ask(api, headers, "forecast the amount for the next 6 months", undated)
    assert body["status"] == "unresolved" and "date" in body["answer"]
    # a prediction that is not over time is the analyst's
    predicted = _ask(api, headers, "predict the amount from the region", undated)
    assert predicted["route"] == "analyst" and "no table has a date column" in predicted["route_reason"]


def test_post_charts_draws_sql_or_a_plan_with_a_hint(api: Api, sales: tuple[dict[str, str], str]) -> None:
    headers, dataset_id = sales
    sql = "SELECT region, SUM(amount) AS total FROM data GROUP BY region"
    response = api.client.post(
        CHARTS,
        json={"dataset_ids": [dataset_id], "sql": sql, "hint": "pie", "title": "Sales by region"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["chart"]["kind"] == "pie" and body["result"]["row_count"] == 3
    validate_spec(body["chart"]["spec"])
    plan = {
        "tables": ["data"],
        "measures": [{"agg": "sum", "column": "amount"}],
        "dimensions": [{"column": "region"}],
    }
    planned = api.client.post(CHARTS, json={"dataset_ids": [dataset_id], "plan": plan}, headers=headers)
    assert planned.status_code == 200, planned.text
    assert planned.json()["chart"]["kind"] in {"bar", "horizontal_bar"}


@pytest.mark.parametrize(
    "body",
    [
        {"sql": "SELECT 1", "plan": {"tables": ["data"]}},
        {},
        {"sql": "SELECT region FROM data", "hint": "sparkline"},
    ],
)
def test_post_charts_refuses_bad_requests(
    api: Api, sales: tuple[dict[str, str], str], body: dict[str, Any]
) -> None:
    headers, dataset_id = sales
    response = api.client.post(CHARTS, json={"dataset_ids": [dataset_id], **body}, headers=headers)
    assert response.status_code == 422, response.text


def test_post_charts_is_for_analysts_and_reads_only_your_data(
    api: Api, sales: tuple[dict[str, str], str]
) -> None:
    _, dataset_id = sales
    body = {"dataset_ids": [dataset_id], "sql": "SELECT region, SUM(amount) FROM data GROUP BY 1"}
    viewer = api.headers_for("vic", Role.VIEWER)
    assert api.client.post(CHARTS, json=body, headers=viewer).status_code == 403
    other = api.headers_for("eve")
    assert api.client.post(CHARTS, json=body, headers=other).status_code == 404
    text_only = api.client.post(
        CHARTS, json={"dataset_ids": [dataset_id], "sql": "SELECT region FROM data"}, headers=sales[0]
    )
    assert text_only.status_code == 422 and text_only.json()["type"].endswith("/chart-not-possible")
