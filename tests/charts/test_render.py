"""Every chart kind validates against the Vega-Lite schema and renders to PNG and SVG."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from typing import Any

import pytest

from nexus.charts import (
    CHART_KINDS,
    SCHEMA_URL,
    Chart,
    InvalidSpec,
    RenderError,
    build_chart,
    layered_forecast_chart,
    render,
    validate_spec,
)
from tests.charts import results as r

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

EXAMPLES: dict[str, tuple[dict[str, Any], str, str | None]] = {
    "kpi": (r.single(), "What is the total revenue?", None),
    "line": (r.monthly_by_region(), "Monthly revenue by region", None),
    "bar": (r.by_region(), "revenue by region", None),
    "grouped_bar": (r.two_categories(), "compare orders by region and channel", None),
    "stacked_bar": (r.two_categories(), "orders by region and channel", "stacked"),
    "horizontal_bar": (r.many_categories(), "revenue by customer", None),
    "histogram": (r.raw_values(), "distribution of order values", None),
    "box": (r.raw_by_region(), "spread of order value by region", None),
    "scatter": (r.price_quantity(), "relationship between price and quantity", None),
    "heatmap": (r.weekday_hour(), "visits by weekday and hour", None),
    "pie": (r.segments(), "share of revenue by segment", None),
}


def _forecast() -> Chart:
    history = [{"date": m, "value": 100.0 + 5 * i} for i, m in enumerate(r.months(24))]
    points = [
        {
            "date": m,
            "forecast": 220.0 + 5 * i,
            "lo80": 200.0,
            "hi80": 240.0 + 6 * i,
            "lo95": 190.0,
            "hi95": 250.0 + 8 * i,
        }
        for i, m in enumerate(r.months(6, start=2025))
    ]
    return layered_forecast_chart(
        history, points, title="Revenue forecast", measure_label="Revenue", money=True
    )


def _check_images(spec: dict[str, Any]) -> None:
    png = render(spec, "png")
    assert png.startswith(PNG_MAGIC) and len(png) > 5_000
    svg = render(spec, "svg")
    assert svg.lstrip().startswith(b"<svg") and b"</svg>" in svg and len(svg) > 1_000


class TestEveryKind:
    def test_every_kind_has_an_example(self) -> None:
        assert set(EXAMPLES) == set(CHART_KINDS)

    @pytest.mark.parametrize("kind", CHART_KINDS)
    def test_kind_validates_and_renders(self, kind: str) -> None:
        data, question, hint = EXAMPLES[kind]
        chart = build_chart(data, question, hint=hint)
        assert chart.kind == kind, chart.reason
        assert chart.spec["$schema"] == SCHEMA_URL
        assert isinstance(chart.spec["data"]["values"], list) and chart.spec["data"]["values"]
        validate_spec(chart.spec)
        _check_images(chart.spec)

    def test_png_scale(self) -> None:
        chart = build_chart(r.by_region(), "revenue by region")
        small, large = render(chart.spec, "png"), render(chart.spec, "png", scale=2.0)
        assert len(large) > len(small)


class TestForecastChart:
    def test_layers_validate_and_render(self) -> None:
        chart = _forecast()
        assert chart.kind == "line" and chart.notes == []
        layers = chart.spec["layer"]
        assert [layer["mark"]["type"] for layer in layers] == ["area", "area", "line", "line"]
        assert layers[0]["encoding"]["y2"] == {"field": "hi95"} and layers[1]["encoding"]["y2"] == {
            "field": "hi80"
        }
        assert layers[3]["mark"]["strokeDash"]
        assert chart.spec["layer"][2]["encoding"]["y"]["axis"]["format"].startswith("$")
        validate_spec(chart.spec)
        _check_images(chart.spec)

    def test_missing_intervals_and_bad_values_are_skipped(self) -> None:
        history = [
            {"date": "2024-01-01", "value": 1.0},
            {"date": "not a date", "value": 2.0},
            {"date": "2024-02-01"},
        ]
        points = [
            {"date": "2024-03-01", "forecast": 3.0, "lo80": None, "hi80": None, "lo95": None, "hi95": None}
        ]
        chart = layered_forecast_chart(history, points, title="T", measure_label="Units")
        assert len(chart.spec["data"]["values"]) == 2
        _check_images(chart.spec)

    def test_empty_history_and_points(self) -> None:
        chart = layered_forecast_chart([], [], title="Nothing yet", measure_label="Units")
        assert chart.spec["data"]["values"] == []
        assert render(chart.spec, "svg").startswith(b"<svg")


class TestValidator:
    def test_a_broken_spec_is_caught(self) -> None:
        spec = copy.deepcopy(build_chart(r.by_region(), "revenue by region").spec)
        spec["mark"] = {"type": "barr"}
        with pytest.raises(InvalidSpec) as caught:
            validate_spec(spec)
        assert caught.value.path == "/mark/type" or caught.value.path.startswith("/mark")

    @pytest.mark.parametrize(
        ("breakage", "where"),
        [
            pytest.param(lambda s: s.update(colour="red"), "/", id="unknown top-level key"),
            pytest.param(
                lambda s: s["encoding"]["x"].update(type="categorical"), "/encoding/x", id="bad type"
            ),
            pytest.param(
                lambda s: s["encoding"]["y"].update(axis={"format": 3}), "/encoding/y", id="bad format"
            ),
            pytest.param(lambda s: s.update(data={"values": 5}), "/data", id="data not rows"),
            pytest.param(lambda s: s.pop("mark"), "/", id="no mark"),
        ],
    )
    def test_hand_broken_specs(self, breakage: Any, where: str) -> None:
        spec = copy.deepcopy(build_chart(r.by_region(), "revenue by region").spec)
        breakage(spec)
        with pytest.raises(InvalidSpec) as caught:
            validate_spec(spec)
        assert caught.value.path.startswith(where)
        assert len(caught.value.message) <= 300

    @pytest.mark.parametrize("bad", [None, [1], "text", 7], ids=["null", "list", "text", "number"])
    def test_a_bad_row_deep_in_long_data_is_caught(self, bad: Any) -> None:
        spec = copy.deepcopy(build_chart(r.raw_values(500)).spec)
        spec["data"]["values"][400] = bad
        with pytest.raises(InvalidSpec) as caught:
            validate_spec(spec)
        assert caught.value.path.startswith("/data")

    def test_long_data_of_one_type_is_valid(self) -> None:
        spec = copy.deepcopy(build_chart(r.raw_values(500)).spec)
        spec["data"]["values"] = list(range(500))
        validate_spec(spec)

    def test_render_refuses_an_invalid_spec(self) -> None:
        with pytest.raises(InvalidSpec):
            render({"mark": "nope"}, "png")

    def test_render_reports_what_vega_lite_cannot_compile(self) -> None:
        # Expressions are plain strings to the schema; Vega parses them only when drawing.
        spec = {
            "$schema": SCHEMA_URL,
            "data": {"values": [{"a": 1}]},
            "transform": [{"calculate": "nosuchfunction(datum.a)", "as": "b"}],
            "mark": "point",
            "encoding": {"x": {"field": "b", "type": "quantitative"}},
        }
        validate_spec(spec)
        with pytest.raises(RenderError):
            render(spec, "png")

    def test_unknown_format(self) -> None:
        with pytest.raises(ValueError, match="png"):
            render(build_chart(r.by_region()).spec, "gif")  # type: ignore[arg-type]


HOSTILE: dict[str, tuple[list[Any], list[Any]]] = {
    "control characters": (["North\x11", "South\x00"], [1.0, 2.0]),
    "subnormal numbers": (["a", "b"], [2.2e-309, -1e-311]),
    "integers beyond doubles": (["a", "b"], [10**400, 2**70]),
    "nan and infinity": (["a", "b"], [float("nan"), float("inf")]),
    "surrogate and markup": (["\ud800", "<svg>&amp;"], [1.0, 2.0]),
    "very long label": (["x" * 5000, "y"], [1.0, 2.0]),
    "emoji cut by a label limit": (["🍕" * 40, "0000000000000000000@@@𝐀"], [1.0, 2.0]),
}
# A crash inside vl-convert aborts the process (a Rust panic, not an exception): a child process
# keeps that a plain failure here, naming the case it died on.
_CHILD = r"""
import json, sys
from nexus.charts import ChartError, build_chart, render
for case, data in json.loads(sys.stdin.read()).items():
    print(case, flush=True)
    try:
        chart = build_chart(data, "value by name\x11", hint="bar", labels={"name": "Na\x07me"})
    except ChartError:
        continue
    assert render(chart.spec, "png").startswith(b"\x89PNG"), case
    assert render(chart.spec, "svg").startswith(b"<svg"), case
    spec = dict(chart.spec, title="Revenue\x11")  # render itself scrubs a spec made by hand
    render(spec, "svg")
"""


class TestHostileValues:
    def test_charts_of_hostile_values_render(self) -> None:
        cases = {
            case: r.result(
                [("name", "VARCHAR"), ("value", "DOUBLE")], [list(p) for p in zip(*pair, strict=True)]
            )
            for case, pair in HOSTILE.items()
        }
        child = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=json.dumps(cases, allow_nan=True),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert child.returncode == 0, f"died on: {child.stdout.splitlines()[-1:]}\n{child.stderr[-2000:]}"
        assert child.stdout.split("\n")[:-1] == list(HOSTILE)
